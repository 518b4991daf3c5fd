-- A client from a profile of the gc CLI's ~/.gc/config.toml (the README's "A client from a gc profile").
--   lua5.4 examples/profile.lua [PROFILE]
-- Without PROFILE: the profile "default", with the GENESYSCLOUD_* variables over it (as the gc CLI does);
-- with one: that profile alone. GENESYS_USAGE_BASE_URL points it elsewhere (`make fake`'s cloud, a tunnel).

local usage = require "usage"
local profiles = require "usage.profiles"

local name = arg and arg[1]
local names = profiles.list()
if names then print("profiles: " .. table.concat(names, ", ")) end

local client, err = profiles.client(name, {
  retry = { max_retries = 3 },                                    -- any option of usage.new
  on_warning = function(message) io.stderr:write(message, "\n") end, -- a profile file open to others
})
if not client then
  io.stderr:write("no client: ", err, "\n")
  os.exit(2)
end

local week = usage.interval.days(7)
local rows, qerr = client:aggregates({ interval = week.jobs, groupBy = { "OauthClientId" } }):all()
if not rows then
  io.stderr:write(tostring(qerr), "\n")
  os.exit(1)
end
local total = 0
for _, row in ipairs(rows) do total = total + (row.requestCount or 0) end
print(string.format("%s: %d requests, %d rows (%s)", name or profiles.DEFAULT_PROFILE, total, #rows, week.label))
client:close()
