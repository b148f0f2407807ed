import assert from "node:assert/strict";
import { virtualDeviceNumber, XVD_DISK_MAX } from "./vdev_number.ts";

Deno.test("vdev numbers: xen-vbd-interface table (xvd, d<N>p<M>, hd, sd, numeric)", () => {
  const table: [string, number | undefined][] = [
    ["xvda", 51712],
    ["xvdb", 51728],
    ["xvda1", 51713],
    ["xvda15", 51727],
    ["xvdp", (202 << 8) | (15 << 4)],
    ["xvdq", (1 << 28) | (16 << 8)], // disk 16: the extended form
    ["xvda16", (1 << 28) | 16], // partition 16: the extended form
    ["xvdz", (1 << 28) | (25 << 8)],
    ["xvdaa", (1 << 28) | (26 << 8)], // bijective base 26
    ["xvdaz", (1 << 28) | (51 << 8)],
    ["xvdba", (1 << 28) | (52 << 8)],
    ["xvda255", (1 << 28) | 255],
    ["xvda256", undefined],
    ["xvda01", undefined], // no leading zero in a partition
    ["xvd", undefined],
    ["d0p0", 51712],
    ["d1p2", 51730],
    ["d16p0", (1 << 28) | (16 << 8)],
    ["d0p256", undefined],
    [`d${XVD_DISK_MAX}p0`, (1 << 28) | (XVD_DISK_MAX << 8)],
    [`d${XVD_DISK_MAX + 1}p0`, undefined], // over the limit
    ["xvdbgqcv", (1 << 28) | (XVD_DISK_MAX << 8)], // letters for disk 2^20 - 1
    ["xvdbgqcw", undefined], // disk 2^20: over the limit

    ["hda", 768],
    ["hdb", 832],
    ["hdc", 5632],
    ["hdd", 5696],
    ["hda1", 769],
    ["hda63", 831],
    ["hda64", undefined],
    ["hde", undefined],
    ["sda", 2048],
    ["sdb", 2064],
    ["sda1", 2049],
    ["sdp15", (8 << 8) | (15 << 4) | 15],
    ["sdq", undefined],
    ["sda16", undefined],
    ["51712", 51712],
    ["0xca00", 51712],
    ["0145000", 51712],
    ["2147483648", undefined],
    ["vda", undefined],
    ["", undefined],
  ];
  for (const [vdev, want] of table) assert.equal(virtualDeviceNumber(vdev), want, vdev);
});
