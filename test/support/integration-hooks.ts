// Mocha root hooks for test/integration: one real control plane for the whole run.
import { sharedCluster, stopSharedCluster } from "./cluster.ts";

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(180_000);
    await sharedCluster();
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(60_000);
    await stopSharedCluster();
  },
};
