"""OAuth 1.0a signing (Magento's integrations) against RFC 5849's own worked examples."""

from __future__ import annotations

from fulfillment.adapters.platforms._oauth1 import base_string, normalised_url, signature


def test_the_rfc_5849_section_1_2_signature() -> None:
    params = {
        "file": "vacation.jpg",
        "size": "original",
        "oauth_consumer_key": "dpf43f3p2l4k3l03",
        "oauth_token": "nnch734d00sl2jdk",
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": "137131202",
        "oauth_nonce": "chapoH",
    }
    signed = signature(
        "GET", "http://photos.example.net/photos", params, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00", "HMAC-SHA1"
    )
    assert signed == "MdpQcU8iPSUjWoN/UDMsK2sui9I="


def test_the_rfc_5849_section_3_4_1_base_string_order_and_encoding() -> None:
    params = {
        "b5": "=%3D",
        "a3": "a",
        "c@": "",
        "a2": "r b",
        "oauth_consumer_key": "9djdj82h48djs9d2",
        "oauth_token": "kkk9d7dh3k39sjv7",
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": "137131201",
        "oauth_nonce": "7d8f3e4a",
        "c2": "",
    }
    # The RFC's example also repeats a3 (a3=2 q); a dict holds one value per name, ours never repeat one.
    assert base_string("POST", "http://example.com/request?b5=%3D%253D", params) == (
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26"
        "oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26"
        "oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
    )


def test_the_url_is_normalised_as_magentos_hmac_does() -> None:
    assert (
        normalised_url("HTTPS://Shop.Example:443/rest/V1/orders/318?x=1#f") == "https://shop.example/rest/V1/orders/318"
    )
    assert normalised_url("http://127.0.0.1:8080/rest") == "http://127.0.0.1:8080/rest"
