-- usage.api.regions: Genesys Cloud region keys and their environments (docs/service.md).
-- API host: https://api.<environment>; login host: https://login.<environment>.

local by_key = {
  us_east_1 = "mypurecloud.com",
  eu_west_1 = "mypurecloud.ie",
  ap_southeast_2 = "mypurecloud.com.au",
  ap_northeast_1 = "mypurecloud.jp",
  eu_central_1 = "mypurecloud.de",
  us_west_2 = "usw2.pure.cloud",
  ca_central_1 = "cac1.pure.cloud",
  ap_northeast_2 = "apne2.pure.cloud",
  eu_west_2 = "euw2.pure.cloud",
  ap_south_1 = "aps1.pure.cloud",
  us_east_2 = "use2.us-gov-pure.cloud",
  sa_east_1 = "sae1.pure.cloud",
  me_central_1 = "mec1.pure.cloud",
  ap_northeast_3 = "apne3.pure.cloud",
  eu_central_2 = "euc2.pure.cloud",
  mx_central_1 = "mxc1.pure.cloud",
  ap_southeast_1 = "apse1.pure.cloud",
  eusc_de_east_1 = "edee1.eusc-pure.cloud",
}

-- also accept the region names with dashes (us-east-1) and the environments themselves
local function resolve(name)
  if type(name) ~= "string" then return nil end
  local key = name:lower():gsub("-", "_")
  if by_key[key] then return by_key[key] end
  for _, env in pairs(by_key) do
    if env == name:lower() then return env end
  end
  return nil
end

return { by_key = by_key, resolve = resolve }
