"""Where an Azure OpenAI request goes and how it authenticates. `api_base_url` is the resource's
endpoint (`https://{resource}.openai.azure.com`). With `azure.api_version` set, a deployment URL
(`/openai/deployments/{deployment}/{operation}?api-version=…`, the body's model is ignored); without,
the v1 API (`/openai/v1/{operation}`, the deployment named by the body's `model`). The key goes in
the `api-key` header, or as a bearer token (an Entra ID token) with `azure.auth: bearer`."""

from urllib.parse import quote


def url(provider, deployment, operation):
    version = provider.azure.get("api_version")
    if version:
        return (f"{provider.api_base_url}/openai/deployments/{quote(deployment, safe='-._')}/{operation}"
                f"?api-version={quote(version, safe='-._')}")
    return v1_url(provider, operation)


def v1_url(provider, operation):
    return f"{provider.api_base_url}/openai/v1/{operation}"


def headers(provider, client_headers=None):
    h = {"Content-Type": "application/json", "Accept": "application/json"}
    if provider.api_key:
        if provider.azure.get("auth") == "bearer":
            h["Authorization"] = "Bearer " + provider.api_key
        else:
            h["api-key"] = provider.api_key
    h.update(provider.headers)
    return h
