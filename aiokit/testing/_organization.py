"""Seed a fake AWS Organization on a moto server."""

from __future__ import annotations

from dataclasses import dataclass, field

import boto3

__all__ = ["FakeAccount", "FakeOrganization", "make_fake_organization"]

# moto's default account: the organization's management account.
MANAGEMENT_ACCOUNT = "123456789012"
ROLE_NAME = "OrganizationAccountAccessRole"


@dataclass(frozen=True)
class FakeAccount:
    """One member account of a fake organization."""

    id: str
    name: str
    ou: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FakeOrganization:
    """A fake organization: its management account, members and OUs (name -> id)."""

    endpoint_url: str
    management_account: str
    accounts: tuple[FakeAccount, ...]
    ous: dict[str, str]
    role_name: str = ROLE_NAME

    @property
    def account_ids(self) -> list[str]:
        """The member accounts' ids, in creation order."""
        return [a.id for a in self.accounts]

    def role_arn(self, account: str) -> str:
        """The ARN of the role the organization creates in each member account."""
        return f"arn:aws:iam::{account}:role/{self.role_name}"


def make_fake_organization(
    endpoint_url: str, accounts: int = 6, ous: tuple[str, ...] = ("prod", "dev")
) -> FakeOrganization:
    """Create an organization with ``accounts`` members spread round-robin over ``ous``.

    Account ``i`` is named ``member-i`` and tagged ``{"env": <its OU>, "index": str(i)}``.
    moto maps a role ARN's account to that account, so each member is reachable with
    ``aiokit.AssumeRole(account=..., role_name="OrganizationAccountAccessRole")``.
    """
    org = boto3.client(
        "organizations",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    try:
        org.create_organization(FeatureSet="ALL")
        root = org.list_roots()["Roots"][0]["Id"]
        ou_ids = {
            name: org.create_organizational_unit(ParentId=root, Name=name)["OrganizationalUnit"][
                "Id"
            ]
            for name in ous
        }
        members = []
        for i in range(accounts):
            ou = ous[i % len(ous)] if ous else ""
            tags = {"env": ou, "index": str(i)}
            status = org.create_account(
                Email=f"member-{i}@example.com",
                AccountName=f"member-{i}",
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            )["CreateAccountStatus"]
            account_id = status["AccountId"]
            if ou:
                org.move_account(
                    AccountId=account_id, SourceParentId=root, DestinationParentId=ou_ids[ou]
                )
            members.append(FakeAccount(account_id, f"member-{i}", ou, tags))
    finally:
        org.close()
    return FakeOrganization(endpoint_url, MANAGEMENT_ACCOUNT, tuple(members), ou_ids)
