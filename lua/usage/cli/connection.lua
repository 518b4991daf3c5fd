-- usage.cli.connection: which org a command talks to, with which credentials, and how, as an option
-- group:
--   connection.add(cmd [, { orgs = true }])      -- the Credentials and connection group of an argparse
--                                                -- command; orgs: --profile repeats, and --all-profiles
--   local creds = connection.credentials(args, term)  -- the credentials of the run (one org)
--   local orgs = connection.orgs(args, term, label)   -- several orgs: { { label, profile, creds }, ... }
--   connection.note(creds, term)                 -- on a real run: the variables an explicit --profile left unread
--   local client = connection.client(args, creds, term)   -- a client (usage.new) of those credentials
-- Where the credentials come from (the GENESYSCLOUD_* variables over a gc profile, an explicit --profile
-- alone, the strict and hostile-file-proof reading of ~/.gc/config.toml) is usage.profiles', said here in
-- the command's words (--profile, --region, --base-url). Every secret is given to the terminal's redactor
-- as soon as it is known. A trapped signal while reading the profile file ends the command with the
-- signal's exit status, never as if there were no profile.

local client_mod = require "usage.client"
local limits = require "usage.api.limits"
local params = require "usage.api.params"
local profiles = require "usage.profiles"
local failure = require "usage.cli.failure"
local NAME = require("usage.cli.program").NAME

local M = {}

local format, concat = string.format, table.concat
local unpack = table.unpack or unpack -- luacheck: ignore (Lua 5.1 / LuaJIT global)
local TIMEOUT, POLL = params.client.entries.timeout, params.poll.entries -- (their flags, checks and limits)

-- how usage.profiles' messages name the settings: as the flags that give them
local WORDS = { region = "--region", base_url = "--base-url", profile = "--profile",
                name_profile = "give --profile NAME" }

-- resolve(profile, args) -> creds | nil, message (usage.profiles.resolve); a trapped signal raises
local function resolve(profile, args)
  local creds, why = profiles.resolve { profile = profile, region = args.region, base_url = args.base_url,
                                        words = WORDS }
  if not creds then failure.check() end
  return creds, why
end

-- resolve_many(names, args) -> { { profile = name, creds = creds }, ... } | nil, message: several profiles,
-- each resolved as an explicit --profile is (the GENESYSCLOUD_* variables are not read); names = nil: every
-- profile of the file, sorted
local function resolve_many(names, args)
  if not names then
    local why
    names, why = profiles.list()
    if not names then
      failure.check()
      return nil, why
    end
  end
  local out, seen = {}, {}
  for i, name in ipairs(names) do
    if seen[name] then return nil, "profile " .. name .. " is given twice" end
    seen[name] = true
    local creds, why = resolve(name, args)
    if not creds then return nil, why end
    out[i] = { profile = name, creds = creds }
  end
  return out
end

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
  list[#list + 1] = cmd:option("--" .. TIMEOUT.flag, format("timeout of each HTTP request (default %g)", TIMEOUT.default))
                       :argname(TIMEOUT.arg):target("timeout"):convert(TIMEOUT.convert):overwrite(false)
  list[#list + 1] = cmd:option("--" .. POLL.interval.flag, format("first wait before polling a query, doubling up " ..
                                                                  "to %g s (default %g)", limits.POLL_MAX_INTERVAL,
                                                                  POLL.interval.default))
                       :argname(POLL.interval.arg):target("poll_interval"):convert(POLL.interval.convert)
                       :overwrite(false)
  list[#list + 1] = cmd:option("--" .. POLL.timeout.flag, format("give up on a query still running after this long " ..
                                                                 "(default %g)", POLL.timeout.default))
                       :argname(POLL.timeout.arg):target("poll_timeout"):convert(POLL.timeout.convert)
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

-- credentials(args, term) -> the credentials of the run (usage.profiles.resolve's creds: found, or
-- creds.missing saying what is lacking, which only a real run refuses); a profile, region or base URL that
-- cannot be used is a usage error
function M.credentials(args, term)
  local creds, why = resolve(args.profile, args)
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
  local names = args.profile -- (a list: repeatable here)
  local function usage(message) failure.usage(message, name) end
  if args.all_profiles and names then usage("--all-profiles takes every profile: leave out --profile") end
  local orgs = {}
  if args.all_profiles or (names and #names > 1) then
    if label then usage("--org labels one org; with several profiles each org is labelled with its profile's name") end
    local list, why = resolve_many(not args.all_profiles and names or nil, args)
    if not list then usage(why) end
    for i, p in ipairs(list) do
      if p.profile:find("%c") then -- (a label of the exposition: one line)
        usage(format("profile %q: a name with control characters cannot be an org label", p.profile))
      end
      orgs[i] = { label = p.profile, profile = p.profile, creds = p.creds }
    end
  else
    local profile = names and names[1]
    local creds, why = resolve(profile, args)
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

-- tracker(session, command, orgs) -> progress(label [, period]): the on_progress of each org's aggregates jobs
-- (one progress line for them all; period: the period of a comparison, "this period" or "the previous
-- period"/"year", whose jobs run at the same time as the other's); each job's id is a note with the command
-- that reads it again (its org's --profile), and goes to session.jobs for the failure line: each id names
-- its org (with several orgs) and its period (in a comparison), and with several orgs the one command given
-- for all names the profile as ORG
function M.tracker(session, command, orgs)
  local several = #orgs > 1
  local profile_of, of_name = {}, {}
  for _, o in ipairs(orgs) do profile_of[o.label] = o.profile end
  local track = session.term:tracker(command, function(id, name)
    local label, period = of_name[name].label, of_name[name].period
    local profile = profile_of[label]
    local again = NAME .. " aggregates" .. (profile and (" --profile " .. profile) or "") .. " --job " .. id
    local whose = {}
    if several then whose[#whose + 1] = "org " .. label end
    if period then whose[#whose + 1] = period end
    local of = concat(whose, ", ")
    session.jobs[#session.jobs + 1] = {
      id = of ~= "" and (id .. " (" .. of .. ")") or id,
      again = several and (NAME .. " aggregates --profile ORG --job " .. id) or again,
    }
    session.term:note(format("%sjob %s started (read it again with: %s)", of ~= "" and (of .. ": ") or "", id, again))
  end)
  return function(label, period)
    local name = several and label or nil
    if period then name = name and (name .. " " .. period) or period end
    name = name or label
    of_name[name] = { label = label, period = period }
    return track(name)
  end
end

-- clients(args, orgs, term) -> the client of each org of the run (orgs[i]'s is the i-th; orgs as M.orgs
-- returns them). From then on every line of the terminal passes through the redactor of each client and the
-- terminal's own: the secrets of every org of the run, and those the terminal learnt before
function M.clients(args, orgs, term)
  local redactors = { term.redactor }
  local list = {}
  for i, o in ipairs(orgs) do
    list[i] = M.client(args, o.creds, term)
    redactors[#redactors + 1] = list[i].redact
  end
  term:redact_with({
    add = function(_, s) for _, r in ipairs(redactors) do r:add(s) end end,
    text = function(_, s)
      for _, r in ipairs(redactors) do s = r:text(s) end
      return s
    end,
  })
  return list
end

return M
