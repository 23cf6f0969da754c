-- Sign-in flows remember the redirect URI they sent to the provider, so the code exchange repeats it exactly, even when
-- the callback reaches another replica or another host name than the one that started the flow.
ALTER TABLE identity.oauth_states ADD COLUMN redirect_uri text;
