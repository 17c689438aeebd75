"""Staff API contract: sign-in, the signed-in user, device tokens."""

from __future__ import annotations

from pydantic import BaseModel, Field

from pos.staff.actors import RoleName, StaffActor

__all__ = ["MAX_PASSWORD_LENGTH", "DeviceTokenOut", "LoginRequest", "RoleOut", "StaffOut"]

MAX_PASSWORD_LENGTH = 256


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class RoleOut(BaseModel):
    role: RoleName
    store_id: int | None = Field(description="null: every store (head office)")


class StaffOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    roles: list[RoleOut]

    @classmethod
    def from_actor(cls, actor: StaffActor) -> StaffOut:
        """The API view of a signed-in user."""
        return cls(
            user_id=actor.user_id,
            username=actor.username,
            display_name=actor.display_name,
            roles=[RoleOut(role=role, store_id=store_id) for role, store_id in actor.roles],
        )


class DeviceTokenOut(BaseModel):
    token_id: int = Field(description="to revoke it later")
    device_id: int
    store_id: int
    token: str = Field(description="send as `Authorization: Bearer <token>`; shown only once")
