import assert from "node:assert/strict";
import { BootError } from "./boot_error.ts";
import {
  GRUB_CFG_BYTES_MAX,
  GRUB_ENTRIES_MAX,
  parseGrub2Cfg,
  parseMenuLst,
} from "./grub_config.ts";
import { CENTOS5_GRUB_CONF, DEBIAN_GRUB_CFG } from "./testing.ts";

Deno.test("grub2: Debian's grub.cfg — functions skipped, submenu flattened, default 0", () => {
  const m = parseGrub2Cfg(DEBIAN_GRUB_CFG);
  assert.equal(m.flavour, "grub2");
  assert.deepEqual(m.entries.map((e) => e.title), [
    "Debian GNU/Linux",
    "Debian GNU/Linux, with Linux 6.1.0-18-amd64",
    "Debian GNU/Linux, with Linux 6.1.0-18-amd64 (recovery mode)",
  ]);
  assert.deepEqual(m.entries[0], {
    title: "Debian GNU/Linux",
    kernel: "/boot/vmlinuz-6.1.0-18-amd64",
    initrd: "/boot/initrd.img-6.1.0-18-amd64",
    args: "root=UUID=4f0f ro  quiet",
  });
  assert.equal(m.entries[2].args, "root=UUID=4f0f ro single");
  // `set default="${next_entry}"` then `set default="0"`: the last one wins.
  assert.equal(m.defaultIndex, 0);
  assert.deepEqual(m.warnings, []);
});

Deno.test("grub2: default by number, by title, saved_entry, and out of range", () => {
  const menu = (dflt: string) =>
    parseGrub2Cfg(
      `set default=${dflt}\nmenuentry 'A' {\nlinux /a\n}\nmenuentry "B" --class x {\nlinux16 /b x=1\ninitrd16 /ib\n}\n`,
    );
  assert.equal(menu("1").defaultIndex, 1);
  assert.deepEqual(menu("1").entries[1], { title: "B", kernel: "/b", initrd: "/ib", args: "x=1" });
  assert.equal(menu('"B"').defaultIndex, 1);
  assert.equal(menu("'A'").defaultIndex, 0);
  const saved = menu('"${saved_entry}"');
  assert.equal(saved.defaultIndex, 0);
  assert.deepEqual(saved.warnings, ['default "${saved_entry}" is not supported; using entry 0']);
  const far = menu("7");
  assert.equal(far.defaultIndex, 0);
  assert.deepEqual(far.warnings, ['default "7" names no entry (2 entries); using entry 0']);
  assert.match(menu("C").warnings[0], /default "C" names no entry/);
});

Deno.test("grub2: device prefixes are dropped from paths", () => {
  const m = parseGrub2Cfg(
    "menuentry 'x' {\n linux (hd0,msdos1)/vmlinuz ro\n initrd (hd0,gpt2)/initrd\n}\n",
  );
  assert.deepEqual(m.entries[0], { title: "x", kernel: "/vmlinuz", initrd: "/initrd", args: "ro" });
});

Deno.test("grub2: syntax errors are refused as pygrub refuses them", () => {
  const bad = (text: string, re: RegExp) =>
    assert.throws(() => parseGrub2Cfg(text, "/boot/grub/grub.cfg"), (e: unknown) => {
      assert.ok(e instanceof BootError);
      assert.equal(e.code, "bootloader_config_invalid");
      assert.match(e.message, re);
      return true;
    });
  bad(
    "menuentry 'a' {\nmenuentry 'b' {\n}\n}\n",
    /grub.cfg: syntax error: cannot nest menuentry \(inside "a"\)/,
  );
  bad("}\n", /syntax error: closing brace without menuentry/);
  bad("menuentry 'a' {\nlinux /k\n", /syntax error: end of file with open menuentry "a"/);
  bad("menuentry 'a' {\nlinux (hd0/k\n}\n", /unable to find matching '\)'/);
});

Deno.test("grub legacy: CentOS 5 grub.conf — default=1, (hd0,0) prefixes, args", () => {
  const m = parseMenuLst(CENTOS5_GRUB_CONF);
  assert.equal(m.flavour, "grub-legacy");
  assert.equal(m.defaultIndex, 1);
  assert.deepEqual(m.entries, [
    {
      title: "CentOS (2.6.18-398.el5xen)",
      kernel: "/vmlinuz-2.6.18-398.el5xen",
      initrd: "/initrd-2.6.18-398.el5xen.img",
      args: "ro root=/dev/VolGroup00/LogVol00",
    },
    {
      title: "CentOS (2.6.18-371.el5xen)",
      kernel: "/vmlinuz-2.6.18-371.el5xen",
      initrd: "/initrd-2.6.18-371.el5xen.img",
      args: "ro root=/dev/VolGroup00/LogVol00 console=xvc0",
    },
  ]);
  assert.equal(parseMenuLst("default 1\ntitle a\nkernel /a\ntitle b\nkernel /b\n").defaultIndex, 1);
  assert.equal(parseMenuLst("default saved\ntitle a\nkernel /a\n").defaultIndex, 0);
  assert.deepEqual(parseMenuLst("timeout 5\n").entries, []);
});

Deno.test("grub: size and entry limits are refused when exceeded", () => {
  assert.throws(
    () => parseGrub2Cfg("#".repeat(GRUB_CFG_BYTES_MAX + 1)),
    /grub.cfg: 1048577 bytes \(limit 1048576\)/,
  );
  const entries = (n: number) =>
    Array.from({ length: n }, (_, i) => `title t${i}\nkernel /k\n`).join("");
  assert.equal(parseMenuLst(entries(GRUB_ENTRIES_MAX)).entries.length, GRUB_ENTRIES_MAX);
  assert.throws(() => parseMenuLst(entries(GRUB_ENTRIES_MAX + 1)), /more than 256 entries/);
});
