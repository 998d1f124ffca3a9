// The API server answers 429 with a Retry-After while it cannot serve a request yet but will
// soon: a resource's watch cache re-listing after its etcd watch broke ("storage is
// (re)initializing"), or API Priority and Fairness shedding load. client-go retries those calls
// itself (up to 10 times, honouring Retry-After); client-node does not, so a user's read through
// the REST API failed on a busy machine for a second's hiccup. A 429 means the server did not act
// on the request, so retrying any verb is safe.
import { apiErrorCode } from "./errors.ts";

export interface TooManyRequestsRetry {
  /** Retries after the first attempt. */
  retries: number;
  /** The longest wait honoured per retry, whatever Retry-After asks. */
  maxWaitMs: number;
  sleep?: (ms: number) => Promise<void>;
}

export const defaultTooManyRequestsRetry: TooManyRequestsRetry = { retries: 5, maxWaitMs: 2_000 };

/** The wait a 429 asks for, in ms (Retry-After in seconds; 1 s when absent or unreadable), capped. */
export function retryAfterMs(err: unknown, maxWaitMs: number): number {
  const headers = (err as { headers?: Record<string, string | undefined> } | null)?.headers ?? {};
  const raw = headers["retry-after"] ?? headers["Retry-After"];
  const seconds = raw === undefined ? Number.NaN : Number(raw);
  const ms = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 1000;
  return Math.min(ms, maxWaitMs);
}

/** Runs `call`, again after the server's Retry-After while it answers 429, at most `retries` more times. */
export async function retryTooManyRequests<T>(call: () => Promise<T>, options: TooManyRequestsRetry = defaultTooManyRequestsRetry): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (apiErrorCode(err) !== 429 || attempt >= options.retries) throw err;
      await sleep(retryAfterMs(err, options.maxWaitMs));
    }
  }
}
