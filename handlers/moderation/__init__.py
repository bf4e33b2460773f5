"""The moderators' group: cards and digests, actions, questions to reporters, commands."""
