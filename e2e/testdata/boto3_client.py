"""Drives Parley with Debian's boto3 (python3-boto3), as e2e/debian_clients_test.go asks.

Covers what boto3 1.26's models know of the chat: the Connect API's
start_chat_contact, update/get_contact_attributes, describe_contact and
stop_contact, and the participant API's create_participant_connection,
send_message and get_transcript; and that errors arrive typed. Of the newer
operations (transfer, monitor, streaming, persistent chat) it drives those
this boto3's model knows. Prints one
JSON object with what it saw.
"""
import json
import os
import sys

import boto3

endpoint, instance = sys.argv[1], sys.argv[2]
kw = dict(region_name="us-east-1", endpoint_url=endpoint)
connect = boto3.client("connect", **kw)
participant = boto3.client("connectparticipant", **kw)
out = {}

chat = connect.start_chat_contact(
    InstanceId=instance, ContactFlowId="default",
    ParticipantDetails={"DisplayName": "Ada"},
    InitialMessage={"ContentType": "text/plain", "Content": "Hello, my order is late"},
    Attributes={"plan": "pro"},
)
connect.update_contact_attributes(InstanceId=instance, InitialContactId=chat["ContactId"], Attributes={"order": "1234"})
out["attributes"] = connect.get_contact_attributes(InstanceId=instance, InitialContactId=chat["ContactId"])["Attributes"]

conn = participant.create_participant_connection(ParticipantToken=chat["ParticipantToken"], Type=["CONNECTION_CREDENTIALS"])
token = conn["ConnectionCredentials"]["ConnectionToken"]
sent = participant.send_message(ConnectionToken=token, ContentType="text/plain", Content="Are you there?")
transcript = participant.get_transcript(ConnectionToken=token, SortOrder="ASCENDING")["Transcript"]
out["messages"] = [it["Content"] for it in transcript if it["Type"] == "MESSAGE"]
out["sentId"] = sent["Id"]

try:
    connect.describe_contact(InstanceId=instance, ContactId="no-such-contact")
    out["unknownContact"] = "no error"
except connect.exceptions.ResourceNotFoundException as e:
    out["unknownContact"] = e.response["Error"]["Code"]

connect.stop_contact(InstanceId=instance, ContactId=chat["ContactId"])
out["state"] = "ENDED" if "DisconnectTimestamp" in connect.describe_contact(InstanceId=instance, ContactId=chat["ContactId"])["Contact"] else "LIVE"
try:
    participant.send_message(ConnectionToken=token, ContentType="text/plain", Content="late")
    out["afterEnd"] = "no error"
except participant.exceptions.AccessDeniedException as e:
    out["afterEnd"] = e.response["Error"]["Code"]

# The newer operations, where this boto3's model knows them: each records
# the error code it got, or "ok" and what it checked.
ops = connect.meta.service_model.operation_names
newer = {}


def code(call, **kw):
    try:
        call(**kw)
        return "no error"
    except connect.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


live = connect.start_chat_contact(InstanceId=instance, ContactFlowId="default", ParticipantDetails={"DisplayName": "Bo"})
if "TransferContact" in ops:
    newer["TransferContact"] = code(connect.transfer_contact, InstanceId=instance, ContactId=live["ContactId"],
                                    ContactFlowId="flow", QueueId="q")
if "MonitorContact" in ops:
    newer["MonitorContact"] = code(connect.monitor_contact, InstanceId=instance, ContactId=live["ContactId"], UserId="nobody")
if "StartContactStreaming" in ops:
    newer["StartContactStreaming"] = code(connect.start_contact_streaming, InstanceId=instance, ContactId=live["ContactId"],
                                          ChatStreamingConfiguration={"StreamingEndpointArn": "arn:aws:sns:us-east-1:000000000000:none"},
                                          ClientToken="boto3-stream")
if "StopContactStreaming" in ops:
    newer["StopContactStreaming"] = code(connect.stop_contact_streaming, InstanceId=instance, ContactId=live["ContactId"],
                                         StreamingId="nope")
if "CreatePersistentContactAssociation" in ops:
    newer["CreatePersistentContactAssociation"] = code(connect.create_persistent_contact_association, InstanceId=instance,
                                                       InitialContactId=chat["ContactId"], RehydrationType="FROM_SEGMENT",
                                                       SourceContactId=chat["ContactId"])
if "PersistentChat" in connect.meta.service_model.shape_for("StartChatContactRequest").members:
    p = connect.start_chat_contact(InstanceId=instance, ContactFlowId="default", ParticipantDetails={"DisplayName": "Ada"},
                                   PersistentChat={"RehydrationType": "ENTIRE_PAST_SESSION", "SourceContactId": chat["ContactId"]})
    newer["PersistentChat"] = "ok" if p.get("ContinuedFromContactId") == chat["ContactId"] else repr(p)
out["newer"] = newer

json.dump(out, sys.stdout)
