-- usage.profiles: a client from a profile of the Genesys Cloud CLI (gc), for scripts and the command line.
--   local profiles = require "usage.profiles"
--   local client, err = profiles.client("acme")        -- profile acme of ~/.gc/config.toml, alone
--   local client, err = profiles.client()              -- profile default, the GENESYSCLOUD_* variables over it
--   local names, err = profiles.list()                 -- { "acme", "default" }
--   local creds, err = profiles.resolve { profile = "acme" }  -- the settings, without a client
-- Where the settings come from (docs/cli.md tells it for the command, in the same words):
--   1. the GENESYSCLOUD_* variables (the names the gc CLI and the Terraform provider read), each
--      overriding the same setting of
--   2. a profile of the gc CLI's file ~/.gc/config.toml (default "default"): keys client_credentials (the
--      OAuth client id), client_secret, environment (a region such as eu-west-1 or a domain such as
--      mypurecloud.ie) and access_token.
-- A profile asked for by name wins over the variables: that profile alone gives the credentials and the
-- region, and the GENESYSCLOUD_* variables are not read (creds.ignored lists those that are set), so that a
-- loop over profiles never queries one organization several times. (The gc CLI lets the variables override
-- even a named profile.) A given access token (variable) wins; then client credentials (id and secret,
-- each from the variable or the profile); then a token of the profile. A region or base URL given by the
-- caller wins over both; GENESYS_USAGE_BASE_URL gives a base URL (the fake cloud's, a tunnel's). A profile
-- asked for by name must exist; secrets are never in a message.
--
-- The file is read only if it is a regular file of at most MAX_SIZE bytes (a FIFO, a device, a directory
-- or a huge file is refused at once, never waited on or read whole: core.read_file) and parsed by a strict
-- reader (usage.profiles.toml: errors name a line, never its text). A file that holds a secret
-- (client_secret, access_token) and that others can read, or that someone else owns, gives a warning, as
-- ssh does for its keys: in creds.warnings, and to opts.on_warning(message) of client(). A trapped signal
-- while reading ends the read (nil, message; core.pending_signal() names it).
-- Errors are nil, message (a string); a wrong argument raises.

local core = require "usage.core"
local regions = require "usage.api.regions"
local params = require "usage.api.params"
local client_mod = require "usage.client"
local toml = require "usage.profiles.toml"

local M = {}

M.VARS = {
  client_id = "GENESYSCLOUD_OAUTHCLIENT_ID", client_secret = "GENESYSCLOUD_OAUTHCLIENT_SECRET",
  region = "GENESYSCLOUD_REGION", access_token = "GENESYSCLOUD_ACCESS_TOKEN",
}
M.BASE_URL_VAR = "GENESYS_USAGE_BASE_URL"
M.DEFAULT_PROFILE = "default"
M.MAX_SIZE = toml.MAX_SIZE
-- the profile keys of the gc CLI and the settings they give
local PROFILE_KEYS = { client_id = "client_credentials", client_secret = "client_secret", region = "environment",
                       access_token = "access_token" }

-- a variable of the environment (opts.getenv, else os.getenv), nil when unset or empty
local function env_of(opts)
  local getenv = opts and opts.getenv or os.getenv
  return function(name)
    local v = getenv(name)
    if v == nil or v == "" then return nil end
    return v
  end
end

-- the path of the profile file: opts.file, else ~/.gc/config.toml | nil (no HOME)
local function file_of(opts, env)
  if opts and opts.file then return opts.file end
  local home = env("HOME")
  return home and (home .. "/.gc/config.toml") or nil
end

local KINDS = { directory = "a directory", fifo = "a FIFO (named pipe)", char = "a character device",
                block = "a block device", socket = "a socket", other = "not a regular file" }

-- read(path) -> the parsed file | nil, reason ("missing"), message
local function read(path)
  local text, info, reason = core.read_file(path, toml.MAX_SIZE)
  if not text then
    if reason == "missing" then return nil, "missing", "cannot read " .. path .. ": " .. tostring(info) end
    if reason == "interrupted" then return nil, reason, "reading " .. path .. " was interrupted" end
    if reason == "not_file" then
      return nil, reason, string.format("cannot read %s: it is %s, not a file", path, KINDS[info] or info)
    end
    if reason == "too_large" then return nil, reason, path .. ": larger than " .. toml.MAX_SIZE .. " bytes" end
    return nil, reason, "cannot read " .. path .. ": " .. tostring(info)
  end
  local doc, err = toml.parse(text)
  if not doc then return nil, "parse", path .. ": " .. err end
  return doc, info
end

-- does the file hold a secret (in any of its profiles)?
local function holds_secret(doc)
  for _, t in pairs(doc) do
    if type(t) == "table" and ((type(t.client_secret) == "string" and t.client_secret ~= "") or
                               (type(t.access_token) == "string" and t.access_token ~= "")) then
      return true
    end
  end
  return false
end

-- the warning ssh-style tools give for a file of secrets others can read (or someone else owns), or nil
local function permission_warning(path, info)
  local mode = info.mode % 512 -- the permission bits
  if mode % 64 ~= 0 then
    local who = (mode % 8 ~= 0) and "everyone" or "your group"
    return string.format("warning: %s holds a secret and is open to %s (mode %04o); protect it with: chmod 600 %s",
                         path, who, mode, path)
  end
  if not info.mine and info.owner ~= 0 then
    return string.format("warning: %s holds a secret and belongs to another user (uid %d); it should be yours, " ..
                         "mode 600", path, info.owner)
  end
  return nil
end

-- load(path, name, explicit) -> profile | nil (no file, or no such profile when not asked for) | nil,
-- message; and the permission warning, if any
local function load(path, name, explicit)
  if not path then
    if explicit then return nil, "no profile " .. name .. ": cannot read ~/.gc/config.toml (HOME is not set)" end
    return nil
  end
  local doc, info, message = read(path)
  if not doc then
    if info == "missing" and not explicit then return nil end
    if info == "missing" then return nil, "no profile " .. name .. ": " .. message end
    return nil, message
  end
  local warning = holds_secret(doc) and permission_warning(path, info) or nil
  local profile = doc[name]
  if type(profile) ~= "table" then
    if not explicit then return nil, nil, warning end
    local names = {}
    for k, v in pairs(doc) do
      if k ~= "" and type(v) == "table" then names[#names + 1] = k end
    end
    table.sort(names)
    return nil, string.format("no profile %s in %s (%s)", name, path,
                              #names > 0 and ("profiles: " .. table.concat(names, ", ")) or "it has none")
  end
  local out = { path = path }
  for setting, key in pairs(PROFILE_KEYS) do
    local v = profile[key]
    if v ~= nil and type(v) ~= "string" then
      return nil, string.format("profile %s in %s: %s is not a string", name, path, key)
    end
    if v ~= "" then out[setting] = v end
  end
  return out, nil, warning
end

-- the environment of a region key, region name or domain | nil
local function environment_of(v)
  local known = regions.resolve(v)
  if known then return known end
  if v:find(".", 1, true) and v:match("^[%w%.%-]+$") and not v:find("..", 1, true) then return v:lower() end
  return nil
end

-- check_base_url(url, from) -> true | nil, message: the checks of usage.new, said before any client is made
local function check_base_url(url, from)
  local u, why = core.parse_url(url)
  if not u then return nil, string.format("%s: %q is not an absolute http(s) URL (%s)", from, url, tostring(why)) end
  if u.user or u.password then
    return nil, from .. ": the URL must not carry user:password@ (the client logs in with the OAuth client)"
  end
  if u.query or u.fragment then return nil, from .. ": the URL must not have a query or a fragment" end
  if u.scheme == "http" and not u.loopback then
    return nil, string.format("%s: plain http to %s would send the credentials unencrypted; use https, or an " ..
                              "http:// address on this machine (127.0.0.1, ::1, localhost) such as a tunnel", from,
                              tostring(u.host))
  end
  return true
end

local function check_options(fname, opts)
  if opts ~= nil and type(opts) ~= "table" then error(fname .. ": options must be a table", 3) end
end

-- resolve(opts) -> creds | nil, message. opts: profile (a name: that profile alone; nil: the default one
-- under the variables), region, base_url (the caller's, winning over all), file (the profile file; default
-- ~/.gc/config.toml), getenv (default os.getenv), words (how the caller's messages name its sources:
-- region, base_url, profile, name_profile; the command line's are its flags).
-- creds: { access_token | client_id + client_secret, environment, base_url, from (where the credentials
-- came from), profile (the name, when a profile was read), secrets = { what must never be printed },
-- missing = message (no credentials) | nil, ignored = { the GENESYSCLOUD_* variables set but not read },
-- warnings = { the permission warning } }
function M.resolve(opts)
  check_options("usage.profiles.resolve", opts)
  opts = opts or {}
  if opts.profile ~= nil and type(opts.profile) ~= "string" then
    error("usage.profiles.resolve: profile must be the name of a profile (a string)", 2)
  end
  local env = env_of(opts)
  local words = opts.words or {}
  local explicit = opts.profile ~= nil
  local name = opts.profile or M.DEFAULT_PROFILE
  local profile, perr, warning = load(file_of(opts, env), name, explicit)
  if perr then return nil, perr end
  local from_profile = profile ~= nil
  profile = profile or {}
  local creds = { secrets = {}, ignored = {}, warnings = { warning } }
  local function var(key) -- a GENESYSCLOUD_* variable, unless a named profile wins over them
    local v = env(M.VARS[key])
    if v and explicit then
      creds.ignored[#creds.ignored + 1] = M.VARS[key]
      if key == "access_token" or key == "client_secret" then -- (not used, and still never printed)
        creds.secrets[#creds.secrets + 1] = v
      end
      return nil
    end
    return v
  end
  local vars = {}
  for _, key in ipairs { "access_token", "client_id", "client_secret", "region" } do vars[key] = var(key) end
  local function setting(key)
    local v = vars[key]
    if v then return v, M.VARS[key] end
    if profile[key] then return profile[key], "profile " .. name end
    return nil
  end
  local token, token_from = vars.access_token, M.VARS.access_token
  local id, id_from = setting("client_id")
  local secret = setting("client_secret")
  if not token and not (id and secret) and profile.access_token then
    token, token_from = profile.access_token, "profile " .. name
  end
  if token then
    creds.access_token, creds.from = token, token_from
    creds.secrets[#creds.secrets + 1] = token
  elseif id and secret then
    creds.client_id, creds.client_secret, creds.from = id, secret, id_from
    creds.secrets[#creds.secrets + 1] = secret
    creds.secrets[#creds.secrets + 1] = core.base64(id .. ":" .. secret)
  elseif explicit then
    local lacks = (id and "client_secret") or (secret and "client_credentials") or
                  "client_credentials and client_secret (nor access_token)"
    creds.missing = "no credentials: profile " .. name .. " in " .. tostring(profile.path) .. " has no " .. lacks ..
                    " (with " .. (words.profile or "a profile named") .. ", the GENESYSCLOUD_* variables are not read)"
  else
    local missing = (id and M.VARS.client_secret) or (secret and M.VARS.client_id) or
                    (M.VARS.client_id .. " and " .. M.VARS.client_secret)
    creds.missing = "no credentials: set " .. missing .. " (or " .. M.VARS.access_token .. "), or " ..
                    (words.name_profile or "name a profile") .. " of the gc CLI's ~/.gc/config.toml" ..
                    (profile.path and (" (profile " .. name .. " has no client_credentials and client_secret)") or "")
  end
  local region, region_from = opts.region, words.region or "the region given"
  if not region then region, region_from = setting("region") end
  if region then
    creds.environment = environment_of(region)
    if not creds.environment then
      local keys = {}
      for k in pairs(regions.by_key) do keys[#keys + 1] = k end
      table.sort(keys)
      return nil, string.format("unknown region %q (%s); known: %s", region, region_from, table.concat(keys, ", "))
    end
  end
  local base, base_from = opts.base_url, words.base_url or "the base URL given"
  if not base then base, base_from = env(M.BASE_URL_VAR), M.BASE_URL_VAR end
  if base then
    local ok, why = check_base_url(base, base_from)
    if not ok then return nil, why end
    creds.base_url = base
  end
  creds.profile = from_profile and name or nil
  return creds
end

-- list([opts]) -> the names of the profiles of the file, sorted | nil, message (no HOME, no file, a file
-- that cannot be read or parsed, a file without profiles). opts: file, getenv.
function M.list(opts)
  check_options("usage.profiles.list", opts)
  local path = file_of(opts, env_of(opts))
  if not path then return nil, "HOME is not set: no ~/.gc/config.toml to read the profiles from" end
  local doc, _, message = read(path)
  if not doc then return nil, message end
  local names = {}
  for k, v in pairs(doc) do
    if k ~= "" and type(v) == "table" then names[#names + 1] = k end
  end
  table.sort(names)
  if #names == 0 then return nil, path .. " has no profile" end
  return names
end

-- client([name [, opts]]) -> a client (usage.new) from profile `name` (nil: the default profile under the
-- GENESYSCLOUD_* variables) | nil, message. opts: region, base_url, file, getenv, on_warning = function(message)
-- (the file's permission warning), and any option of usage.new (timeout, retry, poll, logger, ...), which
-- win over the profile's.
function M.client(name, opts)
  check_options("usage.profiles.client", opts)
  if name ~= nil and type(name) ~= "string" then error("usage.profiles.client: the profile name must be a string", 2) end
  opts = opts or {}
  local given = {}
  for k, v in pairs(opts) do
    if k ~= "file" and k ~= "getenv" and k ~= "on_warning" and k ~= "region" and k ~= "base_url" then given[k] = v end
  end
  local _, why = params.check_set(params.client, given) -- a wrong option of usage.new is the caller's error
  if why then error("usage.profiles.client: " .. why, 2) end
  local creds, err = M.resolve { profile = name, region = opts.region, base_url = opts.base_url, file = opts.file,
                                 getenv = opts.getenv }
  if not creds then return nil, err end
  if opts.on_warning then
    for _, w in ipairs(creds.warnings) do opts.on_warning(w) end
  end
  if creds.missing then return nil, creds.missing end
  local settings = { access_token = creds.access_token, client_id = creds.client_id,
                     client_secret = creds.client_secret, environment = creds.environment, base_url = creds.base_url }
  for k, v in pairs(given) do settings[k] = v end
  if settings.access_token and (settings.client_id or settings.client_secret) then
    if given.access_token then settings.client_id, settings.client_secret = nil, nil
    else settings.access_token = nil end
  end
  -- what the profile holds is data: a value usage.new refuses (a secret too short, a CR in an id) is an
  -- error to return, not to raise
  local ok, client = pcall(client_mod.new, settings)
  if not ok then return nil, (tostring(client):gsub("^[^:]*:%d+: ", "")) end -- (its messages hold no secret)
  return client
end

return M
