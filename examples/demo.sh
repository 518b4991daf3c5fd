#!/bin/sh
# The demo (`make demo`, after `make deps build`): who spends the API quota of a (fake) Genesys Cloud org,
# and will this month fit its fair-use allowance. Starts the fake Genesys Cloud of spec/fakecloud on a free
# loopback port, runs
#   genesys-usage report --last 30d --base-url <fake> --svg out/usage-report.svg
#   genesys-usage forecast --licenses cx3=1000 --base-url <fake>
# with the fake's demo credentials, prints the report, says where the chart is, prints the forecast (what an
# admin must act on: the projection against the allowance, the day it runs out, the runaway client), and
# stops the fake (also on failure or Ctrl-C: the driver stops it, and the fake stops itself once its owner
# is gone).
# LUA=luajit sh examples/demo.sh runs it under LuaJIT.
set -eu
cd "$(dirname "$0")/.."

LUA=${LUA:-lua5.4}
case "$LUA" in
  *luajit*) build=build/luajit ;;
  *) build=build/lua5.4 ;;
esac
if ! command -v "$LUA" >/dev/null 2>&1; then
  echo "demo: $LUA not found; run 'make deps'" >&2
  exit 1
fi
if [ ! -f "$build/usage/core.so" ]; then
  echo "demo: $build/usage/core.so is missing; run 'make build'" >&2
  exit 1
fi
mkdir -p out

exec "$LUA" - "$build" <<'LUA'
local build = arg[1]
package.path = "spec/?.lua;spec/?/init.lua;lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/?.so;" .. package.cpath
local interp = (type(jit) == "table") and "luajit" or "lua5.4"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local fakecloud = require "fakecloud"
local ok, fake = pcall(fakecloud.start, {})
if not ok then
  io.stderr:write("demo: the fake Genesys Cloud did not start: ", tostring(fake), "\n")
  os.exit(1)
end
local demo = fakecloud.clients.demo
local svg = "out/usage-report.svg"

io.write("Fake Genesys Cloud at ", fake.base_url, " (OAuth client ", demo.id, ")\n")
local function thousands(n) return (tostring(n):reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")) end
local okc, catalog = pcall(fake.catalog, fake)
local home = okc and catalog.home_organization
if home and home.monthlyAllowance then
  -- the scale to read the report against (spec/fakecloud/README.md, "The data set")
  io.write("Its organization: ", home.name, ", ", thousands(home.seats), " ", home.licence, " seats: ",
           thousands(home.monthlyAllowance), " API requests a month of fair-use allowance (",
           thousands(math.floor(home.monthlyAllowance / 30 + 0.5)), " a day).\n")
end
io.write("\n")
local env = table.concat({
  "env -u GENESYSCLOUD_ACCESS_TOKEN -u GENESYS_USAGE_BASE_URL",
  q("GENESYSCLOUD_OAUTHCLIENT_ID=" .. demo.id), q("GENESYSCLOUD_OAUTHCLIENT_SECRET=" .. demo.secret),
}, " ")

-- run(args) -> the exit status of genesys-usage with these arguments (printed first, as typed)
local function run(args, shown)
  io.write(shown, "\n\n")
  io.flush()
  local words = { env, interp, "bin/genesys-usage" }
  for _, a in ipairs(args) do words[#words + 1] = q(a) end
  local r1, r2, r3 = os.execute(table.concat(words, " "))
  if r1 == true or r1 == 0 then return 0 end
  if r2 == "signal" then return 128 + (r3 or 2) end
  if type(r3) == "number" then return r3 end
  if type(r1) == "number" then return r1 >= 256 and math.floor(r1 / 256) or 1 end -- (5.1: a wait status)
  return 1
end

local status, forecast_status = 1, 1
local run_ok, err = pcall(function()
  status = run({ "report", "--last", "30d", "--base-url", fake.base_url, "--svg", svg },
               "$ GENESYSCLOUD_OAUTHCLIENT_ID=" .. demo.id .. " GENESYSCLOUD_OAUTHCLIENT_SECRET=*** \\\n" ..
               "  genesys-usage report --last 30d --base-url " .. fake.base_url .. " --svg " .. svg)
  if status ~= 0 then return end
  local fh = io.open(svg, "rb")
  local size = fh and fh:seek("end") or 0
  if fh then fh:close() end
  io.write("\nChart of daily requests per top client: ", svg, " (", size, " bytes; open it in a browser)\n\n")
  io.write("Will this month fit the allowance? The fair-use forecast (the org's 1,000 CX 3 seats):\n\n")
  forecast_status = run({ "forecast", "--licenses", "cx3=1000", "--base-url", fake.base_url },
                        "$ genesys-usage forecast --licenses cx3=1000 --base-url " .. fake.base_url)
end)
fake:stop()
if not run_ok then
  io.stderr:write("demo: ", tostring(err), "\n")
  os.exit(1)
end
if status ~= 0 or forecast_status ~= 0 then
  io.stderr:write("demo: genesys-usage ", status ~= 0 and "report" or "forecast", " failed (exit status ",
                  status ~= 0 and status or forecast_status, "); the fake is stopped\n")
  os.exit(status ~= 0 and status or forecast_status)
end
io.write("\nAs a monitoring plugin (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN): add --format plugin; as JSON " ..
         "with the method and its inputs: --format json.\n")
io.write("The fake Genesys Cloud is stopped. Run `make fake` to keep one running and try the other commands.\n")
LUA
