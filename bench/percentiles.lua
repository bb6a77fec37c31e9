-- Prints wrk's latency percentiles as one JSON object (microseconds).
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %d, "errors": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
