"""`type: vertex`: Google Cloud Vertex AI, serving Gemini models (publishers/google) and Claude models
(publishers/anthropic) under one project and location."""
