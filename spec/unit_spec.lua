-- spec/unit.lua, the lists of the unit and integration layers, stays true: every spec file is in exactly one
-- list, every listed file exists, and the unit layer starts no server (support.nginx refuses under
-- USAGE_SPEC_UNIT=1, which spec/run.sh --unit sets).

local nginx = require "support.nginx"

local layers = dofile("spec/unit.lua")

local function spec_files()
  local out = {}
  local p = assert(io.popen("ls spec/*_spec.lua 2>/dev/null"))
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

describe("the unit layer's list (spec/unit.lua)", function()
  it("names every spec file exactly once, in the unit or the integration list", function()
    local where = {}
    local twice = {}
    for _, layer in ipairs { "unit", "integration" } do
      for _, f in ipairs(layers[layer]) do
        if where[f] then twice[#twice + 1] = f .. " (" .. where[f] .. " and " .. layer .. ")" end
        where[f] = layer
      end
    end
    assert.same({}, twice, "listed twice")
    local files = spec_files()
    assert.is_true(#files > 10, "no spec files found from " .. nginx.absolute("."))
    local missing = {}
    for _, f in ipairs(files) do
      if not where[f] then missing[#missing + 1] = f end
    end
    assert.same({}, missing, "spec files in neither list of spec/unit.lua: add each to `unit` (no server) " ..
                             "or `integration`")
    local present = {}
    for _, f in ipairs(files) do present[f] = true end
    for f in pairs(where) do assert.is_true(present[f] == true, f .. " is listed in spec/unit.lua but does not exist") end
  end)

  it("marks the integration part of a unit file so that nothing of it starts when it is left out", function()
    for _, f in ipairs(layers.unit) do
      local text = nginx.read_file(f) or "" -- (a missing file: the test above says so)
      if text:find("#integration", 1, true) then
        -- a strict setup runs even when every test of its block is left out: the part must use lazy_setup
        for block in text:gmatch('describe%("[^"]*#integration"%s*,%s*function%(%)(.-)\nend%)') do
          assert.is_nil(block:match("\n%s*setup%("), f .. ": an #integration block must use lazy_setup")
        end
      end
    end
  end)

  it("fails a unit test that starts a server, naming the list", function()
    local unit = os.getenv("USAGE_SPEC_UNIT") == "1"
    local ok, err = pcall(nginx.server_allowed, "nginx")
    if unit then
      assert.is_false(ok)
      assert.matches("a unit spec may not start a server (nginx)", tostring(err), 1, true)
      assert.matches("spec/unit.lua", tostring(err), 1, true)
    else
      assert.is_true(ok, tostring(err))
    end
  end)

  it("says what is missing when nginx is not there, so the integration specs fail rather than skip", function()
    local ok, why = nginx.nginx_available("/nonexistent/nginx")
    assert.is_nil(ok)
    assert.matches("nginx is not installed", why, 1, true)
    assert.matches("make deps", why, 1, true)
    local started, port, message = pcall(nginx.start_nginx, {
      prefix = "/nonexistent", nginx = "/nonexistent/nginx", conf = function() return "" end })
    if os.getenv("USAGE_SPEC_UNIT") == "1" then
      assert.is_false(started) -- refused before anything else
      assert.matches("may not start a server", tostring(port), 1, true)
    else
      -- start_nginx answers nil, message; the launchers raise it: the spec fails with that message
      assert.is_true(started, tostring(port))
      assert.is_nil(port)
      assert.matches("nginx is not installed", message, 1, true)
    end
  end)
end)
