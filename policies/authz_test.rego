package gaia.authz_test

import data.gaia.authz

# Keys made for these tests only; they sign nothing else.
signing_key := {"alg": "RS256", "d": "Am7ntzgQ-lOG90ieP-4cPLyN__QkIIZJtwuoxUjHwHtbPeoP43UTv8VFVXEsI8U5m9G2uyw_6YZ55GaUqvnYCpWxzJJRxVpvCKhdLU2dh_Ctq3pP-79EAV3blQ0KwWgPkogJbkFhGWnIKBpRLWKXd5yIsc_wxxbhx9PLyDIb-eJtNgIMelGE0P7EQChMnkMNIAdnKrlXT06zNCoqixchZmKF8uxfDzJHEQwYREEu17r6D5RHZVLhIMainWJj_Z9t5IAuGa6-H22cwFz-o0McpGrSd6o0s9faTuTaTr8iHRk23LWcK4NdL6e5bFvgmtj3pVZXa6im5vB9HnCS0RE1wQ", "dp": "FM2mIs9e9FIgMSzOrPG8vZ32KqrkWRsRqxygqWzf78WI3ECtRpyx30Fy2AjQSy-QJ40tvLFgNM1dFab81_hcZBl4PjbPVYTDxQBFeaSPYbpP9cJDEnB7u7i_KCiURzA2QU_BjAL_mJzl042nxa6F4xTaVdBP14GHxQUZwONdlxk", "dq": "Lp9Vs34EEaasYnWXNl6ERHplO34Jj-cEJk3NgK0LxCHuI6FMhzB5--lQWqSnja7-A_39pyK8R9cXiZ3M0_WKN8mEWntEOrtgcitNiEG3mfwnVS1fvX2MMcSPrdG6-y9-MZEtOnh9RDTpn8im4WWkuN6fNoA0cDs3-TUNink6SyE", "e": "AQAB", "kid": "test-key", "kty": "RSA", "n": "sgZ5Ebp3JTnipu2BHwpD1RJJc5KQX5LlKMLb5wHwf8fnyO25ahdZ6P_Qww5icJBvL7-RXYVGmSdYNCZQ5VpjJm9tLYvsL8k8-MEmRdE5rMA6WLvmAoAbne77C0C_nDSUfxEQuyQKOrJa_hA6N4VaJ5UzU9kDy5o4XHnsIozNe_Ee89fa_I2mug9ne44W0Zd8ConvM1Z_hUobum3iyo9_WSrAdihVQo3pqodr4DnjtLPe_z-DiXa7rCfJSYE8x5oQJac0O6tI4QG-8myiPw5QVlqiGibXnsNZGkl3dTfL5TlvgDJaF4mSOxCUcShOpFdfxUr8dgEbw-8YrWzR1sZeyQ", "p": "y6R-0CVjI1WiI3I1rQpZrjLY-8vOcbItlgRZtQlrljcCejB3lGYJQGd5dfMWmSyFfdBnxYoIkm7iZ6BZSG38Hgyhp_Dqym7ci33vLBbUJxEoHSU8ohwmPs3nfHPz6Hbltm52c2vt7-H2Tg-mzgjuW34L9KFFxsXQJc_Zr4O_Fyk", "q": "38vhOi1nxwzOprqF_XHiKv0M_fFIK1yloPjHBr3gG9uERrdYThiCleDER2uwBFKlePWWOyVvCEHXBlgPe729PFpOChSjip1gPNJf4a9oamxKM6bqPzaToNY7e8xWuCNtPcVdDUntmaA4MH5tlB6j9q_-S8dHWooepW-PfQYSHqE", "qi": "vqwq-O4OE3qtRwv6GumYe__sBgLOO-CNU09wiSpLLm1xaPDm7cmlUvkeAX3Z7XgU5Jf02KZtTCWZGAffk5l0FSIs1s-TAIDvOJTXe5EQRMNmT1LJnoDLE2ToEVzYQOtdvNse_36b0Qyp3GqGybWfDt-ab_NRWrLbbmRfmXrlkwg"}

verification_key := {"alg": "RS256", "e": "AQAB", "kid": "test-key", "kty": "RSA", "n": "sgZ5Ebp3JTnipu2BHwpD1RJJc5KQX5LlKMLb5wHwf8fnyO25ahdZ6P_Qww5icJBvL7-RXYVGmSdYNCZQ5VpjJm9tLYvsL8k8-MEmRdE5rMA6WLvmAoAbne77C0C_nDSUfxEQuyQKOrJa_hA6N4VaJ5UzU9kDy5o4XHnsIozNe_Ee89fa_I2mug9ne44W0Zd8ConvM1Z_hUobum3iyo9_WSrAdihVQo3pqodr4DnjtLPe_z-DiXa7rCfJSYE8x5oQJac0O6tI4QG-8myiPw5QVlqiGibXnsNZGkl3dTfL5TlvgDJaF4mSOxCUcShOpFdfxUr8dgEbw-8YrWzR1sZeyQ", "use": "sig"}

foreign_key := {"alg": "RS256", "d": "C1mPXDsGvyQvN8QAkx9Wf7Nm1hcvN5SUxDRe5WHIcv9vo_Nsclo7wxiuUYjQmgjg0aADoVciMaDa4sJLgxah9TBEUM6i1IthxDnnQxHAKXYjwLLH-61wizI95LzBsbnNsfNjPz8WH5_q6K4YXVg4ze4KAZLb7H6NUoaG98B82FjtuEWkDs6aXnBcQ28tDxN5fsdEiwmJ1hD8plvFYAc9TvXPUO4dD1oBkuHc6HkkMQzsDpwRKgXYk3qmgLNlH3SgrozqJOvwAwqUrkPRBApe7OJNtakC4LE7UI5BCd0m8h_zl0UysfYHDFekn4l6l7PnhWazBTqHmuCu8iJevrdCBQ", "dp": "gXYINar4yOYdG4QVq3Gulm9Jjf5h4JgGA0JLNw10cEkNupp4HCp9STm-8tSJ_P3NEBxeK9bFecLHcTSu3J6zLBXHk_adtOfW_G8--0QmA-H4g_hhnfoGZ_2k8yTQ71T60-YP44SnR7PceSEpnnTgOA6Ly3JadXZLBhMMehB6cd0", "dq": "zFpMLr0xBiq7M8UHKt6O3qtK4Ky624c837BFCYPN0AJOpauj5-qQm6YCkRaq1nIeIG5hY__rEcUYFZLCvO5qnac-2AkpsOqgeQBzUXLrbT4E7mKL4hJ9_Bs54wyKiX43JirKJZiEqOcfCiE0uicQx4Kz9pC6DcGNBv3GlbDw8Yk", "e": "AQAB", "kid": "other-key", "kty": "RSA", "n": "x6kOCbco7oHUFlkCldzcPHaAq2DOnJbJL0Bb7Ks6SkYQp-BrCyTxSH21mIYBOf6dmXb_pXw9e-6U4VS16qOvCm0EgYaN-pYHDP-5bVycNIT6u2yVSCVlgJYmV4UHWfLV5RG1Nle0372oSo6E7RvxcVXsqg_WueiOLYxRGoVrA2SPqwtgpVnS2SowSoiJJ9_5sCU8n-BrZW0RSRP6dd0yCIitdeTcoOKEzC6leFM1evvBCyI-HyJVlVFSO51JTtG8IY6PEmyxKodJYQP8kXWVH_AQLntqNIcL_fy10RLJ1-8sZYMh7aYmLhbzEVLfPjkABasGwFVYsXjygfrt3DMmsw", "p": "yZRnXw9UdOroLgmRhRx3BG1VagMvsL-OgG8HBuz1qJ61iiDJlI4vuz2plmjpLTz35eEqOVMN7nXhZO3KUHDJghqpjuJjyz19jPAx460L6L3XFzoxKJcoQ6ikFA7EoFzmi5Rw5TSBpoNs48CEvFg1T2O8LvF_2-aOFSFJAWFhEvc", "q": "_ZAAglQK_VBMnIjPrTR_53dTqnYRCu9WqnV9oPydGDmc1W1D0w2BfS_eTOpfgePaNQHmKxDLa4hZst8hWrqF93972jvHjd5Ky2WeyCB6X6ULkQY-eA7P7B1NzX0G4faF0C5MaEcplUCWrzRZlfNG2BazNAd8i-qcIPjYEbe8nyU", "qi": "kZzeCQMOMKJehMFvdXvuRtHme7MYHXjqaY3sIrA1qWdZrbm3n3IKiBnV1zCJrsbIaUS9S2z-6afGcFiqua0o0p5c8lJVqmvbQHyJMMWwVeYEfft6Mb1Jm6e6yGwFVbSN3KEiTk9A347o_mLLAcaKdcq2i_gJ0ku8EMoPBDfPZP4"}

mock_data := {
	"keys": {"keys": [verification_key]},
	"config": {"issuer": "gaia-iam"},
	"roles": {
		"Admin": ["analytics.report.view", "inventory.read", "inventory.write"],
		"Analyst": ["analytics.report.view", "inventory.read"],
		"Viewer": ["inventory.read"],
		"Billing": ["billing.invoice.read"],
	},
	"revocations": {
		"jti": {"revoked-jti": 4102444800},
		"subjects": {"revoked-user": 1800000000},
	},
}

# 2100-01-01: far enough ahead that these tokens do not expire.
far_future := 4102444800

claims(overrides) := object.union(
	{
		"iss": "gaia-iam",
		"sub": "550e8400-e29b-41d4-a716-446655440000",
		"username": "cj",
		"type": "user",
		"roles": ["Analyst"],
		"permissions": ["analytics.report.view", "inventory.read"],
		"iat": 1700000000,
		"exp": far_future,
		"jti": "jti-1",
	},
	overrides,
)

token(overrides) := io.jwt.encode_sign({"alg": "RS256", "typ": "JWT", "kid": "test-key"}, claims(overrides), signing_key)

decide(tok, permission) := decide_with({"token": tok, "permission": permission}, mock_data.roles)

# with data.gaia as ... would also replace this test package, which lives
# under data.gaia: mock each document on its own.
decide_with(request, roles) := d if {
	d := authz.decision with input as request
		with data.gaia.keys as mock_data.keys
		with data.gaia.config as mock_data.config
		with data.gaia.roles as roles
		with data.gaia.revocations as mock_data.revocations
}

test_granted_permission_is_allowed if {
	decide(token({}), "inventory.read") == {"allow": true, "reasons": []}
	authz.allow with input as {"token": token({}), "permission": "inventory.read"}
		with data.gaia.keys as mock_data.keys
		with data.gaia.config as mock_data.config
		with data.gaia.roles as mock_data.roles
		with data.gaia.revocations as mock_data.revocations
}

test_missing_permission_is_denied if {
	decide(token({}), "inventory.write") == {"allow": false, "reasons": ["permission_missing"]}
}

test_permission_comes_from_todays_roles_not_the_claim if {
	# The claim says inventory.write, but Analyst does not hold it today.
	tok := token({"permissions": ["inventory.write"]})
	decide(tok, "inventory.write") == {"allow": false, "reasons": ["permission_missing"]}
}

test_permission_granted_to_a_role_after_login_is_allowed if {
	roles := object.union(mock_data.roles, {"Analyst": ["inventory.read", "inventory.write"]})
	decide_with({"token": token({}), "permission": "inventory.write"}, roles) == {"allow": true, "reasons": []}
}

test_unknown_role_grants_nothing if {
	decide(token({"roles": ["Ghost"]}), "inventory.read").reasons == ["permission_missing"]
}

test_any_of_several_roles_grants if {
	decide(token({"roles": ["Viewer", "Billing"]}), "billing.invoice.read").allow
}

test_matching_is_exact_without_wildcards if {
	tok := token({"roles": ["Admin"]})
	not decide(tok, "inventory.*").allow
	not decide(tok, "inventory").allow
	not decide(tok, "*").allow
	not decide(tok, "INVENTORY.READ").allow
	not decide(tok, "inventory.read ").allow
	not decide(tok, ["inventory.read"]).allow
}

test_expired_token_is_denied_as_expired if {
	tok := token({"iat": 1700000000, "exp": 1700000900})
	decide(tok, "inventory.read") == {"allow": false, "reasons": ["token_expired"]}
}

test_forged_signature_is_invalid if {
	forged := io.jwt.encode_sign({"alg": "RS256", "typ": "JWT", "kid": "test-key"}, claims({}), foreign_key)
	decide(forged, "inventory.read") == {"allow": false, "reasons": ["token_invalid"]}
}

test_expired_forgery_is_invalid_not_expired if {
	forged := io.jwt.encode_sign({"alg": "RS256", "kid": "test-key"}, claims({"exp": 1700000900}), foreign_key)
	decide(forged, "inventory.read").reasons == ["token_invalid"]
}

test_unknown_kid_is_invalid if {
	tok := io.jwt.encode_sign({"alg": "RS256", "kid": "other-key"}, claims({}), foreign_key)
	decide(tok, "inventory.read").reasons == ["token_invalid"]
}

test_wrong_issuer_is_invalid if {
	decide(token({"iss": "evil-iam"}), "inventory.read").reasons == ["token_invalid"]
}

test_alg_none_is_invalid if {
	header := base64url.encode_no_pad(json.marshal({"alg": "none", "typ": "JWT", "kid": "test-key"}))
	payload := base64url.encode_no_pad(json.marshal(claims({"roles": ["Admin"]})))
	decide(concat(".", [header, payload, ""]), "inventory.read").reasons == ["token_invalid"]
}

test_hs256_with_public_key_is_invalid if {
	secret := {"kty": "oct", "k": base64url.encode_no_pad(json.marshal(verification_key))}
	tok := io.jwt.encode_sign({"alg": "HS256", "kid": "test-key"}, claims({"roles": ["Admin"]}), secret)
	decide(tok, "inventory.read").reasons == ["token_invalid"]
}

test_tampered_payload_is_invalid if {
	[header, _, signature] := split(token({}), ".")
	payload := base64url.encode_no_pad(json.marshal(claims({"roles": ["Admin"]})))
	decide(concat(".", [header, payload, signature]), "inventory.write").reasons == ["token_invalid"]
}

test_malformed_and_missing_tokens_are_invalid if {
	decide("not-a-jwt", "inventory.read") == {"allow": false, "reasons": ["token_invalid"]}
	decide("", "inventory.read").reasons == ["token_invalid"]
	decide(42, "inventory.read").reasons == ["token_invalid"]
	decide_with({"permission": "inventory.read"}, mock_data.roles).reasons == ["token_invalid"]
}

test_token_of_unknown_type_is_invalid if {
	decide(token({"type": "robot"}), "inventory.read").reasons == ["token_invalid"]
}

test_revoked_jti_is_denied if {
	decide(token({"jti": "revoked-jti"}), "inventory.read") == {"allow": false, "reasons": ["token_revoked"]}
}

test_subject_revocation_voids_older_tokens_only if {
	decide(token({"sub": "revoked-user", "iat": 1799999999}), "inventory.read").reasons == ["token_revoked"]
	decide(token({"sub": "revoked-user", "iat": 1800000000}), "inventory.read").reasons == ["token_revoked"]
	decide(token({"sub": "revoked-user", "iat": 1800000001}), "inventory.read").allow
}

test_revoked_and_lacking_permission_names_both if {
	decide(token({"jti": "revoked-jti"}), "inventory.write").reasons == ["permission_missing", "token_revoked"]
}

test_service_tokens_use_their_roles if {
	tok := token({"type": "service", "sub": "svc-reporting", "username": "reporting", "roles": ["Billing"]})
	decide(tok, "billing.invoice.read") == {"allow": true, "reasons": []}
	decide(tok, "inventory.read").reasons == ["permission_missing"]
}

test_no_bundle_data_denies if {
	d := authz.decision with input as {"token": token({}), "permission": "inventory.read"}
	d == {"allow": false, "reasons": ["token_invalid"]}
}

test_principal_is_the_claims_of_a_valid_unrevoked_token if {
	p := authz.principal with input as {"token": token({})}
		with data.gaia.keys as mock_data.keys
		with data.gaia.config as mock_data.config
		with data.gaia.revocations as mock_data.revocations
	p == claims({})
}

test_no_principal_for_revoked_or_invalid_tokens if {
	not authz.principal with input as {"token": token({"jti": "revoked-jti"})}
		with data.gaia.keys as mock_data.keys
		with data.gaia.config as mock_data.config
		with data.gaia.revocations as mock_data.revocations
	not authz.principal with input as {"token": "not-a-jwt"}
		with data.gaia.keys as mock_data.keys
		with data.gaia.config as mock_data.config
		with data.gaia.revocations as mock_data.revocations
}
