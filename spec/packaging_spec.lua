-- The rockspec installs every module of the tree and nothing that is not there.
local read_file = require("support.nginx").read_file
local function read(path) return assert(read_file(path), "cannot read " .. path) end

describe("usage-scm-1.rockspec", function()
  local env = {}
  local chunk = assert((loadstring or load)(read("usage-scm-1.rockspec"), "rockspec", "t", env))
  if setfenv then setfenv(chunk, env) end
  chunk()

  it("lists every Lua module of lua/usage and every C source of src", function()
    local listed = {}
    for name, spec in pairs(env.build.modules) do
      if type(spec) == "string" then listed[spec] = name end
    end
    local p = io.popen("find lua/usage -name '*.lua' | sort")
    for path in p:lines() do
      local module = ("usage." .. path:match("lua/usage/(.-)%.lua$"):gsub("/", ".")):gsub("%.init$", "")
      assert.equal(module, listed[path], path .. " is not installed by the rockspec")
      listed[path] = nil
    end
    p:close()
    assert.same({}, listed)
    local sources = {}
    for _, s in ipairs(env.build.modules["usage.core"].sources) do sources[s] = true end
    p = io.popen("ls src/*.c")
    for path in p:lines() do
      assert.is_true(sources[path] == true, path .. " is not compiled by the rockspec")
      sources[path] = nil
    end
    p:close()
    assert.same({}, sources)
  end)

  it("installs the command line and declares libcurl", function()
    assert.equal("bin/genesys-usage", env.build.install.bin["genesys-usage"])
    assert.equal("curl", env.external_dependencies.CURL.library)
    assert.equal("3.0", env.rockspec_format)
  end)

  it("carries the version of the module", function()
    assert.equal(require("usage")._VERSION, require("usage.core")._VERSION)
    assert.matches("^%d+%.%d+%.%d+$", require("usage")._VERSION)
  end)
end)
