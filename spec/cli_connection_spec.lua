-- usage.cli.connection's helpers for runs of several orgs: one client per org with every org's secrets
-- kept off the terminal, and the jobs of each org named so that a failed run's line reads them again right.
-- No server: the clients are made and never sent anything.
local connection = require "usage.cli.connection"
local term_mod = require "usage.cli.term"

local function stream()
  local out = {}
  return { write = function(self, ...) for _, s in ipairs { ... } do out[#out + 1] = s end return self end,
           flush = function() end, text = function() return table.concat(out) end }
end

local function org(label, profile, secret)
  return { label = label, profile = profile,
           creds = { base_url = "http://127.0.0.1:9", client_id = "id-" .. label, client_secret = secret } }
end

describe("usage.cli.connection", function()
  it("clients: the terminal hides the secrets of every org of the run, and those it knew before", function()
    local s = stream()
    local term = term_mod.new { stream = s, verbose = true, progress = false }
    term:secret("store-password-123")
    local orgs = { org("acme", "acme", "acme-secret-1234"), org("globex", "globex", "globex-secret-5678") }
    local clients = connection.clients({ command = "report" }, orgs, term)
    assert.equal(2, #clients)
    term:line("acme-secret-1234 globex-secret-5678 store-password-123 kept")
    local text = s.text()
    assert.falsy(text:find("acme-secret-1234", 1, true), text)
    assert.falsy(text:find("globex-secret-5678", 1, true), text)
    assert.falsy(text:find("store-password-123", 1, true), text)
    assert.truthy(text:find("kept", 1, true), text)
    for _, c in ipairs(clients) do c:close() end
  end)

  it("tracker: with several orgs each job names its org, and the one command for all names the profile as ORG",
     function()
    local term = term_mod.new { stream = stream(), progress = false }
    local session = { term = term, jobs = {} }
    local track = connection.tracker(session, "report", { org("acme", "acme", "x"), org("globex", "globex", "y") })
    track("acme")({ state = "Submitted", id = "job-a" })
    track("globex")({ state = "Submitted", id = "job-g" })
    assert.same({ { id = "job-a (org acme)", again = "genesys-usage aggregates --profile ORG --job job-a" },
                  { id = "job-g (org globex)", again = "genesys-usage aggregates --profile ORG --job job-g" } },
                session.jobs)
  end)

  it("tracker: one org's job is read again with its own profile", function()
    local session = { term = term_mod.new { stream = stream(), progress = false }, jobs = {} }
    local track = connection.tracker(session, "forecast", { org("acme", "acme", "x") })
    track("acme")({ state = "Submitted", id = "job-a" })
    assert.same({ { id = "job-a", again = "genesys-usage aggregates --profile acme --job job-a" } }, session.jobs)
  end)
end)
