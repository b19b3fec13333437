-- wrk done() hook: prints one machine-readable line that scripts/bench.sh
-- parses (more robust than scraping wrk's human-readable summary).
-- Latencies and duration are in microseconds, bytes in bytes;
-- errors.status counts non-2xx/3xx responses.
--
-- Percentiles: wrk's coordinated-omission correction (stats_correct) can add
-- synthetic samples *below* the recorded minimum -- with pipelining its
-- expected interval is per request while a latency sample covers a whole
-- batch. Those samples count in the total but are never reached by
-- latency:percentile(), which then returns 0 for high percentiles (wrk's own
-- "99%" line prints 0.00us). We find the visible fraction of the samples by
-- bisection on latency:percentile() and rescale, which gives the percentile
-- over the samples wrk can see (identical to wrk's value when none are
-- hidden). hidden_pct reports how many samples were dropped that way.
local function visible_pct(latency)
  if latency:percentile(0) == 0 then
    return nil -- no samples at all
  end
  local lo, hi = 0, 100
  for _ = 1, 60 do
    local mid = (lo + hi) / 2
    if latency:percentile(mid) ~= 0 then lo = mid else hi = mid end
  end
  return lo
end

-- The percentiles of the report's latency pictures; p50_us and p99_us are
-- also written on their own for the tables.
local PERCENTILES = { 50, 75, 90, 99, 99.9 }

done = function(summary, latency, requests)
  local e = summary.errors
  local vis = visible_pct(latency)
  local pct = {}
  for i, p in ipairs(PERCENTILES) do
    local v = vis and latency:percentile(p * vis / 100) or 0
    pct[i] = string.format("\"%s\":%d", tostring(p), v)
  end
  local p50 = vis and latency:percentile(50 * vis / 100) or 0
  local p99 = vis and latency:percentile(99 * vis / 100) or 0
  io.write(string.format(
    "BENCHJSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d," ..
    "\"connect\":%d,\"read\":%d,\"write\":%d,\"timeout\":%d,\"status\":%d," ..
    "\"p50_us\":%d,\"p99_us\":%d,\"max_us\":%d,\"hidden_pct\":%.3f," ..
    "\"percentiles_us\":{%s}}\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    p50, p99, latency.max, vis and (100 - vis) or 0, table.concat(pct, ",")))
end
