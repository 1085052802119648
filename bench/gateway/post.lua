-- wrk script: POST the body in WRK_BODY with the headers in WRK_HEADERS
-- ("Name: value" pairs separated by newlines); run.ts sets both per target.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
for line in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end
