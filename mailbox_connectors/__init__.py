"""mailbox_connectors"""
