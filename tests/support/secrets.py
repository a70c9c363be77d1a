"""The recognisable secrets every test uses, and the environment that carries them to the config.

Tests check that none of them ever reaches an answer, a log or an upstream it is not meant for."""

CLIENT_SECRET = "sk-plexus-test-CLIENTSECRET-0001"
PROVIDER_SECRET = "sk-upstream-test-PROVIDERSECRET-0001"
ADMIN_SECRET = "admin-test-ADMINSECRET-0001"
# a credential in a provider's `headers:` (provider `up` of the test configs sends it upstream)
HEADER_SECRET = "hdr-test-HEADERSECRET-0001"

SECRETS = (CLIENT_SECRET, PROVIDER_SECRET, ADMIN_SECRET, HEADER_SECRET)

ENV = {"PLEXUS_KEY_TEST": CLIENT_SECRET, "UPSTREAM_KEY": PROVIDER_SECRET, "PLEXUS_ADMIN_KEY": ADMIN_SECRET,
       "UPSTREAM_HEADER_TOKEN": HEADER_SECRET}

# a second client key (the shared end-to-end gateway's `other`), for what is kept per key
OTHER_SECRET = "sk-plexus-test-OTHERCLIENT-0002"
