"""A first end-to-end check of the harness: send, then complete with the emailed link."""

from harness import assert_no_secrets, assert_no_traceback


def test_send_then_confirm(ansible, docspace_portal):
    owner = docspace_portal.users["owner"]
    successor = docspace_portal.users["successor"]
    env = {"DOCSPACE_BASE_URL": docspace_portal.base_url, "DOCSPACE_API_KEY": owner.api_key}
    task = {"name": "Transfer", "onlyoffice.docspace.docspace_portal_owner": {"owner_email": successor.email}}

    sent = ansible.run_tasks([task], env=env)
    assert sent.rc == 0, sent.describe()
    assert sent.result("Transfer")["pending_confirmation"] is True

    link = docspace_portal.last_email.short_link
    confirm = dict(task, **{"onlyoffice.docspace.docspace_portal_owner": {"owner_email": successor.email, "confirmation": "{{ link }}"}})
    done = ansible.run_tasks([confirm], env=env, extra_vars={"link": link})
    assert done.rc == 0, done.describe()
    assert done.result("Transfer")["owner"]["id"] == successor.id
    assert docspace_portal.owner_id == successor.id
    assert_no_traceback(done)
    assert_no_secrets(done, owner.api_key, link.rsplit("/", 1)[-1])
