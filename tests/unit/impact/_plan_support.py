"""A releve.yaml for the plan tests: two processes, four routes, five providers, and secrets everywhere.

Every secret contains "SECRET" (and each has its own marker too), so a test can say: none of it reached the plan.
"""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

SECRETS = [
    "sk-SECRET-openai-key",          # an api_key
    "WEBHOOK-SECRET-0123456789",     # a webhook's HMAC secret
    "HOOK-SECRET-token",             # a token in a webhook URL's query
    "xoxb-SLACK-SECRET-token",       # a Slack token in an Apprise URL
    "SMTP-SECRET-password",          # a mail password in an Apprise URL
    "PG-SECRET-password",            # the PostgreSQL password in storage.url
    "BASEURL-SECRET-user",           # credentials in a provider's base_url
    "FEED-SECRET-token",             # a token in a status feed URL
    "ADMIN-SECRET-key",              # an admin key
    "CLIENT-SECRET-key",             # a client key
    "PUBLIC-SECRET-user",            # credentials in the status page's public_url
]

CONFIG = """
clients:
  support-app: {key: "CLIENT-SECRET-key"}
providers:
  openai:
    kind: openai
    api_key: "sk-SECRET-openai-key"
    region: us
    personal_data: false
    status_feed: "https://status.openai.com/api/v2/summary.json?token=FEED-SECRET-token"
  mistral: {kind: openai-compatible, base_url: "https://api.mistral.ai/v1", region: eu, personal_data: true}
  claude: {kind: anthropic, region: us, personal_data: pseudonymized, probe: {request: completion, every: 2m}}
  local: {kind: openai-compatible, base_url: "http://BASEURL-SECRET-user:pw@10.0.0.5:11434/v1", region: on-premises,
          personal_data: true}
  backup: {kind: openai-compatible, base_url: "https://llm.example.net/v1", region: eu, personal_data: true}
routes:
  support-assistant:
    targets: [{provider: mistral, model: mistral-small-latest}, {provider: openai, model: gpt-4o-mini},
              {provider: local, model: llama3.2}]
    timeout: 30s
    attempt_timeout: 8s
    hedge_after: 2s
  summaries:
    strategy: weighted
    targets: [{provider: openai, model: gpt-4o-mini, weight: 3}, {provider: claude, model: claude-3-5-haiku-latest}]
    recover_streams: false
  translation: {targets: [{provider: local, model: llama3.2}]}
  batch: {targets: [{provider: backup, model: big}, {provider: mistral, model: mistral-large-latest}]}
processes:
  customer-support:
    name: {fr: "Support client", en: "Customer support"}
    description: {fr: "Réponses aux clients", en: "Answers to customers"}
    routes: [support-assistant]
    users: 40
    hourly_cost: 35
    revenue_per_hour: 1200
    rto: 10s
    rpo: 5m
    mtd: 4h
    criticality: high
    personal_data: true
    owner: "Claire Martin"
    contacts: ["+33 1 23 45 67 89", "oncall@example.com"]
  reporting:
    name: "Rapports mensuels"
    routes: [summaries, translation]
    users: 5
    hourly_cost: 50.5
    rto: 1h
    criticality: low
currency: EUR
storage: {url: "postgresql://releve:PG-SECRET-password@db.internal:5432/releve"}
monitor: {slow_after: 5s}
status_page: {public_url: "https://PUBLIC-SECRET-user:pw@status.example.com/acme/?x=1"}
notify:
  - "mailtos://user:SMTP-SECRET-password@smtp.example.com?to=ops@example.com"
  - "slack://xoxb-SLACK-SECRET-token/#incidents"
webhooks:
  - {url: "https://hooks.example.com/releve?token=HOOK-SECRET-token", secret: "WEBHOOK-SECRET-0123456789"}
admins: {ops: {key: "ADMIN-SECRET-key"}}
"""
