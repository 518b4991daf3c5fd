-- support/store_run.lua: a sync in its own process, for the specs that interrupt, kill or time-shift one.
--   INTERP spec/support/store_run.lua TARGET ORG [name=value ...]
-- names: refresh_days, first, lock_wait, page_size, trap (1: usage.trap_signals), poll (seconds)
-- Credentials and the API: GENESYSCLOUD_OAUTHCLIENT_ID/_SECRET, GENESYS_USAGE_BASE_URL.
-- stderr: one line per progress event ("state first last rows"); stdout: the summary as one JSON line.
-- Exit: 0 ok, 1 the sync failed, 2 bad arguments, 130 interrupted.
local repo = (arg[0]:match("^(.*)/spec/support/[^/]+$")) or "."
package.path = repo .. "/lua/?.lua;" .. repo .. "/lua/?/init.lua;" .. package.path
package.cpath = repo .. "/build/" .. (type(jit) == "table" and "luajit" or "lua5.4") .. "/?.so;" .. package.cpath

local usage = require "usage"
local store = require "usage.store"

local target, org = arg[1], arg[2]
if not target or not org then
  io.stderr:write("usage: store_run.lua TARGET ORG [name=value ...]\n")
  os.exit(2)
end
local o = {}
for i = 3, #arg do
  local k, v = arg[i]:match("^([%w_]+)=(.*)$")
  if not k then io.stderr:write("bad argument ", arg[i], "\n") os.exit(2) end
  o[k] = v
end
if o.trap == "1" then usage.trap_signals() end

local poll = tonumber(o.poll or "0.02")
local client = usage.new {
  base_url = os.getenv("GENESYS_USAGE_BASE_URL"),
  client_id = os.getenv("GENESYSCLOUD_OAUTHCLIENT_ID"), client_secret = os.getenv("GENESYSCLOUD_OAUTHCLIENT_SECRET"),
  poll = { interval = poll, max_interval = poll * 4, timeout = 120 },
}
local s, err = store.open(target, { lock_wait = tonumber(o.lock_wait or "30") })
if not s then
  io.stderr:write("open: ", tostring(err), "\n")
  os.exit(1)
end
local summary
summary, err = s:sync(client, {
  org = org, refresh_days = tonumber(o.refresh_days or "3"), first = o.first,
  page_size = o.page_size and tonumber(o.page_size) or nil,
  on_progress = function(p)
    io.stderr:write(string.format("%s %s %s %d\n", p.state, tostring(p.first), tostring(p.last), p.rows))
    io.stderr:flush()
  end,
})
local out = summary or (err and err.summary) or {}
local keep = {}
for _, k in ipairs { "org", "first", "last", "days_planned", "days_added", "days_replaced", "rows", "jobs",
                     "jobs_failed", "status" } do keep[k] = out[k] end
io.stdout:write(usage.json.encode(keep), "\n")
if err then io.stderr:write("sync: ", tostring(err), "\n") end
s:close()
if summary then os.exit(0) end
if err and err.code == "interrupted" then os.exit(130) end
os.exit(1)
