"""One model client for every chat call, whoever makes it: the judge is a role, not a class.

A judged metric (AutoDQ, open-ended QA) and an API model adapter (GPT-4o, OpenAI-compatible servers,
Gemini) each hold a harness.client.core.ModelClient built from a harness.client.config.ClientConfig; they
share its cache, retry policy, concurrency bound, usage and cost accounting, and transports (online,
provider batch, Gemini). Nothing heavy is imported here.
"""
