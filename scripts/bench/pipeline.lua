-- wrk script: HTTP/1.1 pipelining, PIPELINE_DEPTH (default 16) requests of
-- GET /echo/abc written at once per connection. wrk parses the request
-- string, learns the depth, and counts every response separately.
local dir = os.getenv("BENCH_LUA_DIR") or "scripts/bench"
dofile(dir .. "/report.lua")

local depth = tonumber(os.getenv("PIPELINE_DEPTH") or "16")
local path = os.getenv("PIPELINE_PATH") or "/echo/abc"
local req

init = function(args)
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format("GET", path)
  end
  req = table.concat(r)
end

request = function()
  return req
end
