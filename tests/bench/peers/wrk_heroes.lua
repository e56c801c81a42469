-- wrk's requests for the FastAPI peer, one scenario a run, chosen by the
-- first argument after `--`: get_hero (a random one of the seeded heroes),
-- create_hero or list_heroes (the first 100). Counts answers that are not
-- 200 as errors on stdout's last line.
local scenario, heroes = "get_hero", 100000
errors = 0  -- global: done() reads it from each thread
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  scenario = args[1] or scenario
  heroes = tonumber(args[2] or heroes)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  errors = 0
end

function request()
  if scenario == "create_hero" then
    return wrk.format("POST", "/heroes/", { ["Content-Type"] = "application/json" },
                      '{"name": "bench", "secret_name": "bench", "age": 30}')
  elseif scenario == "list_heroes" then
    return wrk.format("GET", "/heroes/?limit=100")
  end
  return wrk.format("GET", "/heroes/" .. math.random(1, heroes))
end

function response(status)
  if status ~= 200 then errors = errors + 1 end
end

function done(summary, latency)
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + thread:get("errors") end
  io.write(string.format("wrk: calls=%d errors=%d seconds=%.2f calls_per_s=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f\n",
    summary.requests, failed + summary.errors.connect + summary.errors.read +
      summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000))
end
