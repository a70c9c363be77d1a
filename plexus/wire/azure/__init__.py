"""`type: azure`: Azure OpenAI deployments — Chat Completions, the Responses API and embeddings, at
deployment URLs with an `api-version` or at the v1 API (`/openai/v1/`)."""
