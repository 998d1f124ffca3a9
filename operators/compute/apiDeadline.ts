// A deadline on one Kubernetes API call: client-node sends no timeout of its own, so a hung
// connection would hold a worker (and the key) for ever. The call is aborted, not abandoned.
import { type ConfigurationOptions, Observable, type RequestContext, type ResponseContext } from "@kubernetes/client-node";

/** The API calls of a reconcile are small reads and writes; 10 s is far beyond a healthy server. */
export const apiCallTimeoutMs = 10_000;

/** Per-call options that abort the request after `ms` (or when `signal` aborts). */
export function withDeadline(ms = apiCallTimeoutMs, signal?: AbortSignal): ConfigurationOptions {
  const deadline = AbortSignal.timeout(ms);
  const combined = signal ? AbortSignal.any([deadline, signal]) : deadline;
  return {
    middleware: [
      {
        pre: (request: RequestContext) => {
          request.setSignal(combined);
          return new Observable(Promise.resolve(request));
        },
        post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: "append",
  };
}
