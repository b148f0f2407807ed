/**
 * @module
 * A domain's configuration as the toolstack uses it: the subset of xl.cfg
 * (`docs/man/xl.cfg.5.pod.in`) users need, already parsed and defaulted.
 * The parser (`config/xl_cfg.ts`) produces it; creation, boot and devices
 * consume it.
 */

export type DomainType = "pv" | "pvh" | "hvm";

/** libxl `action_on_shutdown` (lifecycle-and-migration.md §1.2), xl.cfg spelling. */
export type ShutdownAction =
  | "destroy"
  | "restart"
  | "rename-restart"
  | "preserve"
  | "coredump-destroy"
  | "coredump-restart"
  | "soft-reset";

/** A `vif = [ ... ]` entry (§2.5). */
export interface VifConfig {
  readonly devid: number;
  readonly mac: string;
  readonly bridge: string;
  readonly script: string;
  /** `vif` (PV) or `vif_ioemu` (HVM emulated + PV). */
  readonly type: "vif" | "vif_ioemu";
  readonly ip?: string;
  readonly mtu?: number;
  readonly vifname?: string;
}

/** A `disk = [ ... ]` entry (`docs/misc/xl-disk-configuration.txt`, §2.5). */
export interface DiskConfig {
  /** Virtual device name as given, e.g. `xvda`, `hdc`. */
  readonly vdev: string;
  /** `virtual-device` number (xvda = 51712, hda = 768, ...). */
  readonly devid: number;
  /** `target=`: the image path in dom0 (`params` in the backend). */
  readonly target: string;
  readonly format: "raw" | "qcow" | "qcow2" | "vhd";
  readonly access: "r" | "w";
  readonly deviceType: "disk" | "cdrom";
  /** Backend kind: `phy` (blkback, `vbd`), `qdisk` (QEMU), `tap`. */
  readonly backendType: "phy" | "qdisk" | "tap";
  readonly script?: string;
}

/** What the guest agent does (xenlab's own key `xenlab_guest`). */
export interface GuestBehaviour {
  /** `pv` guests are PV; `hvm` guests have PV drivers (PVHVM) unless `pvDrivers` is false. */
  readonly pvDrivers: boolean;
  /** well-behaved | slow-ack | never-ack | crash-on-request | no-suspend. */
  readonly profile: string;
}

export interface DomainConfig {
  readonly name: string;
  readonly type: DomainType;
  /** `memory=` in MiB. */
  readonly memoryMb: number;
  /** `maxmem=` in MiB (defaults to memory). */
  readonly maxmemMb: number;
  readonly vcpus: number;
  readonly maxvcpus: number;
  readonly uuid?: string;
  /** Direct kernel boot (paths in dom0). */
  readonly kernel?: string;
  readonly ramdisk?: string;
  /** Final command line: `cmdline=` wins, else `root=<root> <extra>` (§2.3). */
  readonly cmdline: string;
  /** `bootloader=`: `pygrub` or a path. */
  readonly bootloader?: string;
  readonly bootloaderArgs: readonly string[];
  /** HVM firmware (`bios`, `uefi`, `seabios`, `ovmf`, ...). */
  readonly firmware?: string;
  /** HVM boot order letters (`boot=`), default `cda` as libxl (§2.4). */
  readonly boot: string;
  readonly vifs: readonly VifConfig[];
  readonly disks: readonly DiskConfig[];
  readonly onPoweroff: ShutdownAction;
  readonly onReboot: ShutdownAction;
  readonly onCrash: ShutdownAction;
  readonly onWatchdog: ShutdownAction;
  readonly onSoftReset: ShutdownAction;
  readonly guest: GuestBehaviour;
}
