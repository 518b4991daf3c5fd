#!/bin/sh
# The demo (`make demo`, after `make deps build`): who spends the API quota of a (fake) Genesys Cloud org.
# Starts the fake Genesys Cloud of spec/fakecloud on a free loopback port, runs
#   genesys-usage report --last 30d --base-url <fake> --svg out/usage-report.svg
# with the fake's demo credentials, prints the report, says where the chart is, and stops the fake
# (also on failure or Ctrl-C: the driver stops it, and the fake stops itself once its owner is gone).
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
io.write("$ GENESYSCLOUD_OAUTHCLIENT_ID=", demo.id, " GENESYSCLOUD_OAUTHCLIENT_SECRET=*** \\\n",
         "  genesys-usage report --last 30d --base-url ", fake.base_url, " --svg ", svg, "\n\n")
io.flush()

local status = 1
local run_ok, err = pcall(function()
  local cmd = table.concat({
    "env -u GENESYSCLOUD_ACCESS_TOKEN -u GENESYS_USAGE_BASE_URL",
    q("GENESYSCLOUD_OAUTHCLIENT_ID=" .. demo.id), q("GENESYSCLOUD_OAUTHCLIENT_SECRET=" .. demo.secret),
    interp, "bin/genesys-usage", "report", "--last", "30d", "--base-url", q(fake.base_url), "--svg", q(svg),
  }, " ")
  local r1, r2, r3 = os.execute(cmd)
  if r1 == true or r1 == 0 then
    status = 0
  elseif r2 == "signal" then
    status = 128 + (r3 or 2)
  elseif type(r3) == "number" then
    status = r3
  elseif type(r1) == "number" then -- Lua 5.1 / LuaJIT without 5.2 compatibility: a wait status
    status = r1 >= 256 and math.floor(r1 / 256) or 1
  end
end)
fake:stop()
if not run_ok then
  io.stderr:write("demo: ", tostring(err), "\n")
  os.exit(1)
end
if status ~= 0 then
  io.stderr:write("demo: genesys-usage failed (exit status ", status, "); the fake is stopped\n")
  os.exit(status)
end
local fh = io.open(svg, "rb")
local size = fh and fh:seek("end") or 0
if fh then fh:close() end
io.write("\nChart of daily requests per top client: ", svg, " (", size, " bytes; open it in a browser)\n")
io.write("The fake Genesys Cloud is stopped. Run `make fake` to keep one running and try the other commands.\n")
LUA
