import assert from "node:assert/strict";
import { debFileName, excludedFromSlim, parseSimulation } from "../../../images/debian.ts";

describe("images/debian", () => {
  it("reads the fixed package list from apt's simulated install, sorted by name", () => {
    const output = [
      "NOTE: This is only a simulation!",
      "Inst libc6 (2.36-9+deb12u14 Debian-Security:12/stable-security [amd64])",
      "Inst bash (5.2.15-2+b13 Debian:12.11/stable [amd64])",
      "Inst libattr1 [1:2.5.1-3] (1:2.5.1-4 Debian:12.11/stable [amd64])",
      "Conf bash (5.2.15-2+b13 Debian:12.11/stable [amd64])",
    ].join("\n");
    assert.deepEqual(parseSimulation(output), [
      { name: "bash", version: "5.2.15-2+b13" },
      { name: "libattr1", version: "1:2.5.1-4" },
      { name: "libc6", version: "2.36-9+deb12u14" },
    ]);
  });

  it("knows the file name apt-get download writes (epoch colon escaped)", () => {
    assert.equal(debFileName({ name: "libattr1", version: "1:2.5.1-4" }, "amd64"), "libattr1_1%3a2.5.1-4_amd64.deb");
    assert.equal(debFileName({ name: "ca-certificates", version: "20250419~deb12u2" }, "all"), "ca-certificates_20250419~deb12u2_all.deb");
  });

  it("leaves out what a slim Debian image leaves out, keeping copyright files", () => {
    assert.equal(excludedFromSlim("usr/share/doc/bash/README"), true);
    assert.equal(excludedFromSlim("usr/share/doc/bash/copyright"), false);
    assert.equal(excludedFromSlim("usr/share/man/man1/bash.1.gz"), true);
    assert.equal(excludedFromSlim("usr/share/locale/fr/LC_MESSAGES/coreutils.mo"), true);
    assert.equal(excludedFromSlim("usr/share/ca-certificates/mozilla/x.crt"), false);
    assert.equal(excludedFromSlim("usr/share/documentation"), false);
  });
});
