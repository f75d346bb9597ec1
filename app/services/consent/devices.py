"""Push notifications per device."""
from __future__ import annotations

from app.db import database
from app.models import Device, User
from app.services.platform import audit
from app.services.platform.errors import ServiceError


def push_devices(user: User) -> list[Device]:
    return list(Device.select().where(Device.owner == user.id, Device.push_token.is_null(False))
                .order_by(Device.last_seen_at.desc()))


def set_device_push(user: User, device_id: int, enabled: bool, ip: str | None = None) -> Device:
    device = Device.get_or_none(Device.id == device_id, Device.owner == user.id)
    if device is None or device.push_token is None:
        raise ServiceError("That device is not one of yours.", 404)  # same answer for others' devices
    with database.atomic():
        Device.update(push_enabled=enabled).where(Device.id == device.id).execute()
        audit.record(audit.Event("push.device_" + ("enabled" if enabled else "disabled"), actor=user,
                                 subject=user, ip=ip, details={"device_id": device.id}))  # no name: the log is never rewritten
    device.push_enabled = enabled
    return device


def set_all_push(user: User, enabled: bool, ip: str | None = None) -> int:
    with database.atomic():
        changed = (Device.update(push_enabled=enabled)
                   .where(Device.owner == user.id, Device.push_token.is_null(False)).execute())
        audit.record(audit.Event("push.all_" + ("enabled" if enabled else "disabled"), actor=user,
                                 subject=user, ip=ip, details={"devices": changed}))
    return changed
