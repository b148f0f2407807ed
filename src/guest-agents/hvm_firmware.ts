/**
 * @module
 * The firmware stage of an HVM guest (lifecycle-and-migration.md §2.4):
 * after hvmloader, the BIOS reads the boot order the device model put in
 * CMOS, probes the emulated disks, CD-ROMs and NIC boot ROMs, and boots the
 * first that works (`bios_boot.ts`). What it tried and what it booted are
 * printed on the serial port — the guest-visible record dom0 sees — and
 * traced as `{ev: "bios_boot", device, kind, index}` (or `{ev:
 * "bios_boot", device: null}` for "No bootable device.").
 */
import { CMOS_BOOTFLAG1, CMOS_BOOTFLAG2 } from "../platform/cmos_boot_order.ts";
import { NS_PER_S } from "../sim/clock.ts";
import type { AgentCore } from "./agent_core.ts";
import { type BiosDevice, biosSelectBootDevice, type BootPlan } from "../platform/bios_boot.ts";
import type { HvmPlatform } from "./hvm_platform.ts";

/** Runs the BIOS: the plan, with what it printed already on the console. */
export function runBios(core: AgentCore, platform: HvmPlatform): BootPlan {
  const bios = platform.bios ?? "seabios";
  core.print(bios === "seabios" ? "SeaBIOS (version xenlab)" : "ROMBIOS (xenlab)");
  const cmos = {
    reg3d: platform.cmosRead(CMOS_BOOTFLAG2),
    reg38: platform.cmosRead(CMOS_BOOTFLAG1),
  };
  const plan = biosSelectBootDevice(cmos, platform.probeBootDevices(), bios);
  core.trace("bios_order", { bios, order: plan.order });
  for (const line of plan.console) core.print(line);
  const d: BiosDevice | undefined = plan.device;
  if (d === undefined) core.trace("bios_boot", { device: null, retryInS: plan.retryInS });
  else {core.trace("bios_boot", {
      device: deviceName(d, plan.index!),
      kind: d.kind,
      index: plan.index,
    });}
  return plan;
}

/**
 * Runs the BIOS; returns the device booted from. When nothing boots the
 * agent is `halted` (`ready` rejects) and, with SeaBIOS, the machine is
 * reset `retryInS` later through the platform — a reboot of the domain.
 */
export function bootFirmware(core: AgentCore, platform: HvmPlatform): BiosDevice | undefined {
  const plan = runBios(core, platform);
  if (plan.device !== undefined) return plan.device;
  core.bootFailed("No bootable device.", "halted");
  const retryInS = plan.retryInS;
  if (retryInS !== undefined && platform.reset !== undefined) {
    void (async () => {
      await core.env.sleep(retryInS * NS_PER_S);
      if (core.state !== "halted") return;
      core.trace("bios_reset", { afterS: retryInS });
      platform.reset!();
      core.setState("shutdown");
    })();
  }
  return undefined;
}

/** How the record names a device: its configured name, or kind and probe index. */
export function deviceName(d: BiosDevice, index: number): string {
  return d.name ?? `${d.kind}${index}`;
}
