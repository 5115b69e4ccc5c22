"""Doctor checks for Slack: the token, the granted scopes, the routed channels, the user groups.

Every check asks the Web API the app itself uses (SLACK_API_URL), with the bot token the app
runs with, so a pass means what the app will meet: `auth.test` for the token, its
`x-oauth-scopes` header for the scopes granted against `manifest.yaml`, `conversations.list`
for every channel the catalogue routes escalations to, `usergroups.*` for the approver and
on-call groups.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from warden.doctor import Check, fail, guarded, ok

if TYPE_CHECKING:
    from warden.settings import Settings

MANIFEST = Path(__file__).resolve().parent / "manifest.yaml"
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
USERGROUP_ID = re.compile(r"^S[A-Z0-9]{6,}$")
REINSTALL = (
    "in api.slack.com/apps > Warden > OAuth & Permissions add the scopes from "
    "slackapp/manifest.yaml (or update the app from the manifest), reinstall, and copy the new "
    "Bot User OAuth Token into SLACK_BOT_TOKEN"
)


def manifest_scopes() -> list[str]:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return list(manifest["oauth_config"]["scopes"]["bot"])


def _error(exc: Exception) -> str:
    """Slack's error code when the Web API answered, else the exception."""
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            return str(response["error"])
        except (KeyError, TypeError):
            pass
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _header(response: Any, name: str) -> str | None:
    headers = getattr(response, "headers", None) or {}
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None


def auth_check(settings: Settings, client: Any) -> tuple[Check, Any]:
    """auth.test with the bot token (what /readyz asks of Slack)."""
    try:
        response = client.auth_test()
    except Exception as exc:
        error = _error(exc)
        if error in {"invalid_auth", "not_authed", "token_revoked", "account_inactive"}:
            fix = (
                "SLACK_BOT_TOKEN is not this workspace's bot token: copy the Bot User OAuth "
                "Token (xoxb-...) from OAuth & Permissions, reinstalling the app if it was removed"
            )
        else:
            fix = f"check that {settings.slack_api_url} is reachable from this machine"
        return fail("slack.auth", f"auth.test failed: {error}", fix), None
    team = response.get("team") or response.get("team_id")
    return (
        ok(
            "slack.auth",
            f"workspace {team} ({response.get('team_id')}), bot user {response.get('user_id')}",
        ),
        response,
    )


def scopes_check(response: Any) -> Check:
    granted_header = _header(response, "x-oauth-scopes")
    if granted_header is None:
        return fail(
            "slack.scopes",
            "Slack did not say which scopes the token has (no x-oauth-scopes header)",
            "check that SLACK_API_URL points at Slack's Web API (https://slack.com/api/)",
        )
    granted = {s.strip() for s in granted_header.split(",") if s.strip()}
    wanted = manifest_scopes()
    missing = [s for s in wanted if s not in granted]
    if missing:
        return fail("slack.scopes", f"missing {', '.join(missing)}", REINSTALL)
    return ok("slack.scopes", f"all {len(wanted)} scopes of the manifest granted")


def routed_channels(settings: Settings) -> dict[str, list[str]]:
    """Channel -> the policies that route escalations there (pod and on-call channels)."""
    from knowledge.catalogue import load_catalogue

    routes: dict[str, list[str]] = {}
    for pid, policy in sorted(load_catalogue(settings.catalogue_dir).policies.items()):
        for channel in (policy.escalation.channel, policy.escalation.on_call_channel):
            routes.setdefault(channel, [])
            if pid not in routes[channel]:
                routes[channel].append(pid)
    return routes


def _list_channels(client: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "types": "public_channel,private_channel",
            "exclude_archived": False,
            "limit": 1000,
        }
        if cursor:
            kwargs["cursor"] = cursor
        page = client.conversations_list(**kwargs)
        found.extend(page.get("channels") or [])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return found


def channel_checks(settings: Settings, client: Any, granted: set[str]) -> Iterable[Check]:
    routes = routed_channels(settings)
    try:
        channels = _list_channels(client)
    except Exception as exc:
        yield fail(
            "slack.channels",
            f"cannot list channels ({_error(exc)}), so the {len(routes)} routed channels are "
            "unchecked",
            REINSTALL,
        )
        return
    by_key: dict[str, dict[str, Any]] = {}
    for listed in channels:
        by_key[str(listed.get("id"))] = listed
        by_key["#" + str(listed.get("name"))] = listed
    broken = 0
    for route, policies in routes.items():
        key = route if CHANNEL_ID.match(route) else "#" + route.lstrip("#")
        channel = by_key.get(key)
        used_by = f"routes of {', '.join(policies)}"
        name = f"slack.channel {key}"
        if channel is None:
            broken += 1
            yield fail(
                name,
                f"does not exist (or is private and the bot is not in it); {used_by}",
                f"create {key} and invite the bot (`/invite @Warden`), or change "
                "escalation.channel / on_call_channel in the catalogue",
            )
        elif channel.get("is_archived"):
            broken += 1
            yield fail(name, f"is archived; {used_by}", f"unarchive {key} or route elsewhere")
        elif not channel.get("is_member") and not (
            "chat:write.public" in granted and not channel.get("is_private")
        ):
            broken += 1
            yield fail(
                name,
                f"the bot is not a member and cannot post; {used_by}",
                f"in {key} type `/invite @Warden`",
            )
    if not broken:
        yield ok("slack.channels", f"all {len(routes)} routed channels exist; the bot can post")


def _resolve_group(client: Any, group: str, cache: dict[str, list[dict[str, Any]]]) -> str | None:
    if USERGROUP_ID.match(group):
        return group
    if "list" not in cache:
        cache["list"] = list(client.usergroups_list().get("usergroups") or [])
    handle = group.lstrip("@")
    for entry in cache["list"]:
        if entry.get("handle") == handle and not entry.get("date_delete"):
            return str(entry["id"])
    return None


def group_checks(settings: Settings, client: Any) -> Iterable[Check]:
    from knowledge.catalogue import load_catalogue

    groups: dict[str, str] = {}  # group -> what it is for
    if settings.approver_usergroup:
        groups[settings.approver_usergroup] = "approvers (WARDEN_APPROVER_USERGROUP)"
    on_call: dict[str, list[str]] = {}
    for pid, policy in sorted(load_catalogue(settings.catalogue_dir).policies.items()):
        if policy.escalation.on_call_group:
            on_call.setdefault(policy.escalation.on_call_group, []).append(pid)
    for group, policies in on_call.items():
        groups.setdefault(group, f"on-call for {len(policies)} policies")
    if not settings.approvers and not settings.approver_usergroup:
        yield fail(
            "slack.approvers",
            "nobody may approve proposals",
            "set WARDEN_APPROVER_USERGROUP to a user group id (S...) or WARDEN_APPROVERS to "
            "Slack user ids",
        )
    cache: dict[str, list[dict[str, Any]]] = {}
    for group, purpose in groups.items():
        name = f"slack.group {group}"
        try:
            group_id = _resolve_group(client, group, cache)
            if group_id is None:
                yield fail(
                    name,
                    f"no user group with that handle ({purpose})",
                    "create it in Slack (People > User groups) or fix the name",
                )
                continue
            if group == settings.approver_usergroup and group_id != group:
                # The approvals read the group by id: a handle would refuse every decision.
                yield fail(
                    name,
                    f"is a handle; approvals read the group by id ({purpose})",
                    f"set WARDEN_APPROVER_USERGROUP={group_id}",
                )
                continue
            members = list(client.usergroups_users_list(usergroup=group_id).get("users") or [])
        except Exception as exc:
            yield fail(
                name,
                f"cannot be read: {_error(exc)} ({purpose})",
                "check the group id and the usergroups:read scope",
            )
            continue
        if not members:
            yield fail(name, f"has no members ({purpose})", "add people to the group in Slack")
        else:
            yield ok(name, f"{len(members)} members ({purpose})")


def slack_checks(settings: Settings, *, http: bool, client: Any = None) -> list[Check]:
    missing = settings.missing_slack_settings(http=http)
    if missing:
        from slackapp.cli import missing_message

        return [
            fail(
                "slack.settings",
                missing_message(missing, http=http),
                'see README "Connect to your Slack workspace"',
            )
        ]
    checks = [ok("slack.settings", "HTTP mode" if http else "Socket Mode")]
    if not http and settings.slack_app_token is not None:
        token = settings.slack_app_token.get_secret_value()
        if not token.startswith("xapp-"):
            checks.append(
                fail(
                    "slack.app_token",
                    "SLACK_APP_TOKEN is not an app-level token (xapp-...)",
                    "Basic Information > App-Level Tokens: generate one with connections:write",
                )
            )
    if client is None:
        from slackapp.app import build_client

        client = build_client(settings, max_rate_limit_retries=1)
    auth, response = auth_check(settings, client)
    checks.append(auth)
    if auth.failed:
        return checks
    scopes = scopes_check(response)
    checks.append(scopes)
    header = _header(response, "x-oauth-scopes") or ""
    granted = {s.strip() for s in header.split(",")}
    checks += guarded(
        "slack.channels",
        lambda: channel_checks(settings, client, granted),
        "check the catalogue's escalation channels",
    )
    checks += guarded(
        "slack.groups", lambda: group_checks(settings, client), "check the user group settings"
    )
    return checks
