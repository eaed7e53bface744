"""Secrets through Powertools Parameters (SSM SecureString), cached in the warm container."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider


class ParameterSecretStore:
    def __init__(self, provider: SSMProvider, max_age_seconds: int = 300) -> None:
        self._provider = provider
        self._max_age = max_age_seconds

    def get(self, ref: str) -> str:
        value = self._provider.get(ref, decrypt=True, max_age=self._max_age)
        return str(value)
