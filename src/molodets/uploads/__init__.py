"""Uploads: the tus 1.0 resumable protocol and a plain one-request upload.

Partial data lives in a part file per upload under `settings.resolved_upload_dir`, a folder
every web process shares, so an upload may resume on any process. The videos domain takes a
finished upload through `service.get_completed_upload` and `service.do_consume_upload`.
"""
