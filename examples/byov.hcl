# byov example configuration: the one in DESIGN.md.
# Check it with: byov config validate -config examples/byov.hcl
# Relative paths (data_dir, plugin_dir, file()) start at this file's directory.

server {
  listen     = "127.0.0.1:8443"
  data_dir   = "../data"       # relative to this file
  plugin_dir = "../bin/plugins"
  # tls_cert_file, tls_key_file: serve HTTPS (both or neither).
  # allow_plaintext_credentials = false
  # plugin_start_timeout = "10s", plugin_drain_timeout = "30s",
  # plugin_health_interval = "15s", checkout_timeout = "30s"
}

plugin "passwordsecure" { version = ">= 1.0.0" } # pins live in byov.lock.hcl

service_account "ps-api" {
  username = "NPS"
  secret   = env("PS_API_KEY") # env() and file(); never inline in production
}

connector "ps-prod" {
  plugin          = "passwordsecure"
  description     = "Password Secure, production"
  service_account = service_account.ps-api
  config {
    api_url = "https://ps.example.com:5443/api"
    ca_file = "ps-ca.pem" # better than skip_cert_check = true
  }
}

connection_profile "default" {
  max_session_duration  = "2h"
  allow_password_access = true
}

resource "srv01" {
  platform = "windows"
  address  = "srv01.corp.example.com"
  domain   = "CORP"
}

user "alice" { groups = ["domain-admins"] }

activity "domain-admin" {
  platform      = "windows"
  login_account = "vault" # also: requester (no checkout)
  type          = "interactive"
  connector     = connector.ps-prod
  account       = "${resource.domain}\\adm-${requester.name}" # evaluated per session
}

access_policy "admins" {
  type               = "resource"
  connection_profile = connection_profile.default
  users              = ["group:domain-admins"]
  activities         = [activity.domain-admin]
  resources          = [resource.srv01]
}
