-- wrk script shared by every target: the same headers (relay token + Origin), an optional
-- request body read from a file, and a machine-readable summary line at the end.
local token = os.getenv("BENCH_TOKEN")
local origin = os.getenv("BENCH_ORIGIN")
local body_file = os.getenv("BENCH_BODY_FILE")
-- Paced load: each connection waits this long after every response (wrk's delay() hook), so
-- the offered rate stays the same whatever else the machine is doing. Unset: closed loop.
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms and delay_ms > 0 then
  function delay() return delay_ms end
end

-- Optional Cache-Control request header (the cache bench asks for fresh answers with no-cache).
local cache_control = os.getenv("BENCH_CACHE_CONTROL")

wrk.method = os.getenv("BENCH_METHOD") or "GET"
if cache_control and cache_control ~= "" then wrk.headers["Cache-Control"] = cache_control end
if token and token ~= "" then wrk.headers["X-Proxy-Token"] = token end
if origin and origin ~= "" then wrk.headers["Origin"] = origin end
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/octet-stream"
end

-- Unique bodies (cache misses): every `@N@` in the body becomes BENCH_UNIQUE .. "-" .. a counter,
-- so no two requests of a run (or of two runs) share a cache key.
local unique = os.getenv("BENCH_UNIQUE")
if unique and unique ~= "" and wrk.body then
  local template = wrk.body
  local n = 0
  function request()
    n = n + 1
    return wrk.format(nil, nil, nil, (template:gsub("@N@", unique .. "-" .. n)))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"mean_us":%.1f,"max_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
