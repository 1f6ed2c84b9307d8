"""Privacy: export and erasure of everything held about a person, retention, suppression.

``holdings`` is the one list of where personalize keeps personal data; export, erasure and the
test that every model is covered all read it. Consent lives with identity
(``personalize.identity.consent``) because it decides whether a shopper exists at all.
"""
