-- usage.cli.connection: which org a command talks to, with which credentials, and how, as an option
-- group:
--   connection.add(cmd [, { orgs = true }])      -- the Credentials and connection group of an argparse
--                                                -- command; orgs: --profile repeats, and --all-profiles
--   local creds = connection.credentials(args, term)  -- the credentials of the run (one org)
--   local orgs = connection.orgs(args, term, label)   -- several orgs: { { label, profile, creds }, ... }
--   connection.note(creds, term)                 -- on a real run: the variables an explicit --profile left unread
--   local client = connection.client(args, creds, term)   -- a client (usage.new) of those credentials
-- Where the credentials come from (the GENESYSCLOUD_* variables, the gc CLI's profiles) is
-- usage.cli.credentials'. Every secret is given to the terminal's redactor as soon as it is known.

local client_mod = require "usage.client"
local options = require "usage.client.options"
local credentials = require "usage.cli.credentials"
local failure = require "usage.cli.failure"
local call = require "usage.cli.call"
local NAME = require("usage.cli.program").NAME

local M = {}

local format = string.format
local unpack = table.unpack or unpack -- luacheck: ignore (Lua 5.1 / LuaJIT global)
local D = options.DEFAULTS

local function profile_name(v)
  if v == "" or v:find("%c") then return nil, "--profile: expected the name of a profile" end
  return v
end

-- add(cmd [, opts]): the Credentials and connection group; opts.orgs: a command over several orgs
-- (--profile repeatable, one org each, and --all-profiles)
function M.add(cmd, opts)
  local orgs = opts and opts.orgs
  local list = {}
  local profile = cmd:option("--profile", "profile of the gc CLI's ~/.gc/config.toml; given, it wins over the " ..
                             "GENESYSCLOUD_* variables (not read then); default: the profile default, which the " ..
                             "variables override" .. (orgs and "; repeat it for several orgs in one run" or ""))
                     :argname("NAME"):convert(profile_name)
  if orgs then profile:count("*"):init(nil) else profile:overwrite(false) end -- (orgs: a list)
  list[#list + 1] = profile
  if orgs then
    list[#list + 1] = cmd:flag("--all-profiles", "one org per profile of the gc CLI's ~/.gc/config.toml, each " ..
                               "labelled with the profile's name"):overwrite(false)
  end
  list[#list + 1] = cmd:option("--region", "region (eu-west-1, eu_west_1) or environment (mypurecloud.ie); " ..
                               "default: GENESYSCLOUD_REGION, the profile's environment, else us-east-1")
                       :argname("REGION"):overwrite(false)
  list[#list + 1] = cmd:option("--base-url", "API base URL, e.g. http://127.0.0.1:8089 for the fake; default " ..
                               "GENESYS_USAGE_BASE_URL; logins go there too"):argname("URL"):overwrite(false)
  list[#list + 1] = cmd:option("--timeout", format("timeout of each HTTP request (default %g)", D.timeout))
                       :argname("SECONDS"):convert(call.number("timeout", options.spec.timeout)):overwrite(false)
  list[#list + 1] = cmd:option("--poll-interval", format("first wait before polling a query, doubling up to %g s " ..
                                                         "(default %g)", D.poll.max_interval, D.poll.interval))
                       :argname("SECONDS"):convert(call.number("poll-interval", options.poll_spec.interval))
                       :overwrite(false)
  list[#list + 1] = cmd:option("--poll-timeout", format("give up on a query still running after this long " ..
                                                        "(default %g)", D.poll.timeout))
                       :argname("SECONDS"):convert(call.number("poll-timeout", options.poll_spec.timeout))
                       :overwrite(false)
  cmd:group("Credentials and connection", unpack(list))
end

-- the secrets of creds never reach stderr; the profile file's warnings do (also with --quiet)
local function tell(term, creds, warn)
  for _, s in ipairs(creds.secrets) do term:secret(s) end
  if warn then
    for _, w in ipairs(creds.warnings or {}) do term:line(NAME .. ": " .. w) end
  end
end

-- credentials(args, term) -> the credentials of the run (usage.cli.credentials.resolve's creds: found, or
-- creds.missing saying what is lacking, which only a real run refuses); a profile, region or base URL that
-- cannot be used is a usage error
function M.credentials(args, term)
  local creds, why = credentials.resolve { profile = args.profile, region = args.region, base_url = args.base_url }
  if not creds then failure.usage(why, args.command) end
  tell(term, creds, true)
  return creds
end

-- orgs(args, term, label) -> the orgs of a run over several: { { label =, profile =, creds = }, ... }, in the
-- order given (--all-profiles: the profiles sorted). One org without --profile or with one: labelled
-- `label` (the command's --org), else the profile's name, else nil (the command's default); several: each
-- its profile's name. A label is one line of text: a profile whose name has control characters is refused.
function M.orgs(args, term, label)
  local name = args.command
  local profiles = args.profile -- (a list: repeatable here)
  local function usage(message) failure.usage(message, name) end
  if args.all_profiles and profiles then usage("--all-profiles takes every profile: leave out --profile") end
  local orgs = {}
  if args.all_profiles or (profiles and #profiles > 1) then
    if label then usage("--org labels one org; with several profiles each org is labelled with its profile's name") end
    local list, why = credentials.resolve_many { profiles = profiles, all = args.all_profiles, region = args.region,
                                                 base_url = args.base_url }
    if not list then usage(why) end
    for i, p in ipairs(list) do
      if p.profile:find("%c") then -- (a label of the exposition: one line)
        usage(format("profile %q: a name with control characters cannot be an org label", p.profile))
      end
      orgs[i] = { label = p.profile, profile = p.profile, creds = p.creds }
    end
  else
    local profile = profiles and profiles[1]
    local creds, why = credentials.resolve { profile = profile, region = args.region, base_url = args.base_url }
    if not creds then usage(why) end
    label = label or profile
    if label and label:find("%c") then
      usage(format("profile %q: a name with control characters cannot be an org label; give --org LABEL", label))
    end
    orgs[1] = { label = label, profile = profile, creds = creds }
  end
  for i, o in ipairs(orgs) do tell(term, o.creds, i == 1) end -- (one file: its warnings once)
  return orgs
end

-- note(creds, term): on a run that sends, the GENESYSCLOUD_* variables an explicit --profile left unread
function M.note(creds, term)
  if creds.ignored and #creds.ignored > 0 then
    term:note("--profile " .. tostring(creds.profile) .. " wins over " .. table.concat(creds.ignored, ", ") ..
              " (set, not read)")
  end
end

-- client(args, creds, term) -> a client of these credentials and the connection flags; none found, or
-- settings usage.new refuses: a usage error
function M.client(args, creds, term)
  if creds.missing then failure.usage(creds.missing, args.command) end
  -- (the library keeps its other poll settings, and raises max_interval to a longer first interval)
  local poll = (args.poll_interval or args.poll_timeout) and { interval = args.poll_interval,
                                                               timeout = args.poll_timeout }
  local ok, c = pcall(client_mod.new, {
    user_agent = NAME .. "/" .. client_mod.VERSION,
    environment = creds.environment, base_url = creds.base_url,
    access_token = creds.access_token, client_id = creds.client_id, client_secret = creds.client_secret,
    timeout = args.timeout, poll = poll or nil, logger = args.verbose and term:logger() or nil,
  })
  if not ok then
    failure.usage(tostring(c):gsub("^[^\n]-:%d+: ", ""):gsub("^usage%.new: ", ""), args.command)
  end
  term:redact_with(c.redact)
  return c
end

return M
