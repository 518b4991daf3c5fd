-- Starts the fake cloud, runs the JavaScript SDK acceptance (acceptance.js) against it, stops the fake.
-- Exit status: that of the node script. Run from anywhere: lua5.4 spec/js/run.lua (or luajit).
local here = debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/../?.lua;" .. here .. "/../?/init.lua;" .. package.path
local interp = (type(jit) == "table") and "luajit" or "lua5.4"
package.cpath = here .. "/../../build/" .. interp .. "/?.so;" .. package.cpath

local function ok(r) return r == true or r == 0 end

-- a missing tool fails the suite (one policy for every integration spec: never skip)
if not ok(os.execute("command -v node >/dev/null 2>&1")) then
  print("not ok - node is not installed: the JavaScript SDK acceptance cannot run (Debian package nodejs)")
  print("0 passed, 1 failed")
  os.exit(1)
end

local fakecloud = require "fakecloud"
local started, fake = pcall(fakecloud.start, { gzip = true })
if not started then
  print("not ok - start the fake cloud: " .. tostring(fake))
  print("0 passed, 1 failed")
  os.exit(1)
end
local r1, _, r3 = os.execute("node '" .. here .. "/acceptance.js' " .. fake.base_url)
fake:stop()
local code = (r1 == true and 0) or (type(r1) == "number" and (r1 >= 256 and math.floor(r1 / 256) or r1)) or r3 or 1
os.exit(code == 0 and 0 or 1)
