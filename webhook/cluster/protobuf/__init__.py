"""Kubernetes' protobuf encoding of request bodies, decoded into the JSON form of the object.

client-go sends built-in kinds as ``application/vnd.kubernetes.protobuf`` when a program asks it
to (kubectl's generator commands, Helm's release storage). The embedded API server turns such a
body into the same dict a JSON body would give and goes on as for JSON; responses stay JSON,
which those clients accept.
"""

from webhook.cluster.protobuf.decode import PROTOBUF, decode_object

__all__ = ["PROTOBUF", "decode_object"]
