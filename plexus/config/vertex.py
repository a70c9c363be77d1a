"""The Vertex AI host for a location, when a `type: vertex` provider names no `api_base_url` (the
rule Google's SDKs follow). Paths under it are built by plexus/wire/vertex."""


def vertex_base_url(vertex: dict) -> str:
    location = vertex.get("location") or ""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    if location in ("us", "eu"):  # multi-region endpoints
        return f"https://aiplatform.{location}.rep.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com" if location else ""
