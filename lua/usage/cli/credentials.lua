-- usage.cli.credentials: the command line's credentials, region and base URL, by the rules of
-- usage.profiles (the GENESYSCLOUD_* variables over a gc profile, an explicit --profile alone, the strict
-- and hostile-file-proof reading of ~/.gc/config.toml), said in the command's words (--profile, --region,
-- --base-url). A trapped signal while reading the file ends the command with the signal's exit status
-- (usage.cli.failure), never as if there were no profile.
--   local creds, err = credentials.resolve { profile =, region =, base_url = }  -> creds | nil, message
--   local list, err = credentials.resolve_many { profiles = { ... } | all = true, region =, base_url = }

local profiles = require "usage.profiles"
local failure = require "usage.cli.failure"

local M = {}

M.VARS = profiles.VARS
M.BASE_URL_VAR = profiles.BASE_URL_VAR

local WORDS = { region = "--region", base_url = "--base-url", profile = "--profile",
                name_profile = "give --profile NAME" }

-- resolve(options) -> creds | nil, message (usage.profiles.resolve). options: profile (name or nil),
-- region, base_url (flags).
function M.resolve(options)
  local creds, why = profiles.resolve { profile = options.profile, region = options.region,
                                        base_url = options.base_url, words = WORDS }
  if not creds then failure.check() end -- (a trapped signal: raises with its exit status)
  return creds, why
end

-- resolve_many(options) -> { { profile = name, creds = creds }, ... } | nil, message: the credentials of
-- several profiles, each resolved as for an explicit --profile (the GENESYSCLOUD_* variables are not
-- read). options: profiles (an array of names) or all = true (every profile of the file, sorted), region,
-- base_url.
function M.resolve_many(options)
  local names = options.profiles
  if options.all then
    local why
    names, why = profiles.list()
    if not names then
      failure.check()
      return nil, why
    end
  end
  if type(names) ~= "table" or #names == 0 then return nil, "no profile given" end
  local out, seen = {}, {}
  for i, name in ipairs(names) do
    if seen[name] then return nil, "profile " .. name .. " is given twice" end
    seen[name] = true
    local creds, why = M.resolve { profile = name, region = options.region, base_url = options.base_url }
    if not creds then return nil, why end
    out[i] = { profile = name, creds = creds }
  end
  return out
end

return M
