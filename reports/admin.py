"""Reports have no admin yet; when they get one, it subclasses sites.admin.GhtScopedAdmin."""
