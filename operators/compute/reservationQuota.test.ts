import assert from "node:assert/strict";
import { namespaceTotal, quotaName } from "./reservationQuota.ts";

describe("reservationQuota", () => {
  describe("namespaceTotal", () => {
    const claim = (name: string, cpu: string, memory: string, enforced = true) => ({ name, cpu, memory, enforced });

    it("is the Reservation's own amounts when it is alone in its namespace", () => {
      assert.deepEqual(namespaceTotal(claim("a", "1100m", "1124Mi"), []), { "requests.cpu": "1100m", "requests.memory": "1124Mi" });
    });

    it("adds the enforced neighbours, so two Reservations' Pods fit side by side", () => {
      const total = namespaceTotal(claim("a", "1100m", "1124Mi"), [claim("b", "900m", "924Mi"), claim("c", "4", "8Gi", false)]);
      assert.deepEqual(total, { "requests.cpu": "2", "requests.memory": "2Gi" });
    });

    it("counts itself once, with the state just decided rather than the cache's", () => {
      const total = namespaceTotal(claim("a", "1", "1Gi"), [claim("a", "1", "1Gi", false), claim("b", "500m", "512Mi")]);
      assert.deepEqual(total, { "requests.cpu": "1500m", "requests.memory": "1536Mi" });
    });

    it("names the field of a neighbour's unreadable amount", () => {
      assert.throws(() => namespaceTotal(claim("a", "1", "1Gi"), [claim("b", "lots", "1Gi")]), /spec\.cpu "lots"/);
    });
  });

  it("names a Reservation's quota after it, hashed when too long", () => {
    assert.equal(quotaName("walk"), "reservation-walk");
    const long = quotaName("x".repeat(300));
    assert.ok(long.length <= 253 && long.startsWith("reservation-x"));
  });
});
