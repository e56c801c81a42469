#!/usr/bin/python3
"""The generated Python client against a live server, reached the way
client/python/example.py connects: PROTOMODEL_TARGET, and PROTOMODEL_TLS,
PROTOMODEL_TLS_CA_FILE, the client certificate and PROTOMODEL_TOKEN when
tests/with_server.sh serves mTLS and tokens (PROTOMODEL_TEST_SECURE=1); and
the AIP-193 details of its errors, read with example.py's error_details()."""
import os
import sys
import unittest
import uuid
from unittest import mock

sys.path.insert(0, os.environ["PROTOMODEL_PYTHON_STUBS"])

import grpc  # noqa: E402
from google.protobuf import field_mask_pb2  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402
from grimoire.v1 import grimoire_pb2, grimoire_pb2_grpc  # noqa: E402
from heroes.v1 import heroes_pb2, heroes_pb2_grpc  # noqa: E402

# The example's connect(), so its TLS and token handling is tested too. It
# imports the stubs imported above (from PROTOMODEL_PYTHON_STUBS); no
# __pycache__ is left in the source tree.
sys.dont_write_bytecode = True
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "client", "python"))
from example import connect, error_details  # noqa: E402

SECURE = os.environ.get("PROTOMODEL_TEST_SECURE") == "1"


class PythonClientTest(unittest.TestCase):
    def setUp(self):
        self.channel = connect()
        self.heroes = heroes_pb2_grpc.HeroServiceStub(self.channel)

    def tearDown(self):
        self.channel.close()

    def test_hero_lifecycle(self):
        name = "Py-" + uuid.uuid4().hex[:8]
        hero = self.heroes.CreateHero(heroes_pb2.CreateHeroRequest(
            hero=heroes_pb2.Hero(name=name, secret_name="Snake"),
            request_id=str(uuid.uuid4())), timeout=10)
        self.assertGreater(hero.id, 0)
        self.assertFalse(hero.HasField("age"))

        page = self.heroes.ListHeroes(
            heroes_pb2.ListHeroesRequest(filter='name = "%s"' % name), timeout=10)
        self.assertEqual([h.id for h in page.heroes], [hero.id])

        updated = self.heroes.UpdateHero(heroes_pb2.UpdateHeroRequest(
            hero=heroes_pb2.Hero(id=hero.id, age=7, secret_name="not written"),
            update_mask=field_mask_pb2.FieldMask(paths=["age"])), timeout=10)
        self.assertEqual(updated.age, 7)
        self.assertEqual(updated.secret_name, "Snake")

        got = self.heroes.GetHero(heroes_pb2.GetHeroRequest(id=hero.id), timeout=10)
        self.assertEqual(got, updated)

        self.heroes.DeleteHero(heroes_pb2.DeleteHeroRequest(id=hero.id), timeout=10)
        with self.assertRaises(grpc.RpcError) as caught:
            self.heroes.GetHero(heroes_pb2.GetHeroRequest(id=hero.id), timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_invalid_argument_names_the_field(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.heroes.CreateHero(heroes_pb2.CreateHeroRequest(
                hero=heroes_pb2.Hero(secret_name="x")), timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(caught.exception.details(), "hero.name is required")

    def test_crdt_state_round_trips(self):
        users = grimoire_pb2_grpc.UserServiceStub(self.channel)
        classes = grimoire_pb2_grpc.ClassServiceStub(self.channel)
        conversations = grimoire_pb2_grpc.ConversationServiceStub(self.channel)
        user = users.CreateUser(grimoire_pb2.CreateUserRequest(user=grimoire_pb2.User(
            email=uuid.uuid4().hex + "@py", display_name="Py")), timeout=10)
        cls = classes.CreateClass(grimoire_pb2.CreateClassRequest(
            **{"class": grimoire_pb2.Class(name="Py 101", owner_id=user.id)}), timeout=10)
        state = os.urandom(5 << 20)
        created = conversations.CreateConversation(grimoire_pb2.CreateConversationRequest(
            conversation=grimoire_pb2.Conversation(
                class_id=cls.id, owner_id=user.id, crdt_state=state)), timeout=30)
        got = conversations.GetConversation(
            grimoire_pb2.GetConversationRequest(id=created.id), timeout=30)
        self.assertEqual(got.crdt_state, state)

    def test_live_document_append_list_watch_compact(self):
        users = grimoire_pb2_grpc.UserServiceStub(self.channel)
        classes = grimoire_pb2_grpc.ClassServiceStub(self.channel)
        conversations = grimoire_pb2_grpc.ConversationServiceStub(self.channel)
        user = users.CreateUser(grimoire_pb2.CreateUserRequest(user=grimoire_pb2.User(
            email=uuid.uuid4().hex + "@py", display_name="Py")), timeout=10)
        cls = classes.CreateClass(grimoire_pb2.CreateClassRequest(
            **{"class": grimoire_pb2.Class(name="Py 101", owner_id=user.id)}), timeout=10)
        conversation = conversations.CreateConversation(grimoire_pb2.CreateConversationRequest(
            conversation=grimoire_pb2.Conversation(class_id=cls.id, owner_id=user.id)),
            timeout=10)
        request_id = str(uuid.uuid4())
        for i in range(3):
            appended = conversations.AppendConversationUpdate(
                grimoire_pb2.AppendConversationUpdateRequest(
                    conversation_id=conversation.id, update=b"u%d" % i,
                    request_id=request_id if i == 2 else str(uuid.uuid4())), timeout=10)
            self.assertEqual(appended.seq, i + 1)
        retried = conversations.AppendConversationUpdate(
            grimoire_pb2.AppendConversationUpdateRequest(
                conversation_id=conversation.id, update=b"u2", request_id=request_id),
            timeout=10)
        self.assertEqual(retried.seq, 3)

        listed = conversations.ListConversationUpdates(
            grimoire_pb2.ListConversationUpdatesRequest(
                conversation_id=conversation.id, after_seq=1), timeout=10)
        self.assertEqual([(u.seq, u.update) for u in listed.updates], [(2, b"u1"), (3, b"u2")])

        watch = conversations.WatchConversationUpdates(
            grimoire_pb2.WatchConversationUpdatesRequest(
                conversation_id=conversation.id, after_seq=2), timeout=30)
        self.assertEqual(next(watch).seq, 3)
        conversations.AppendConversationUpdate(grimoire_pb2.AppendConversationUpdateRequest(
            conversation_id=conversation.id, update=b"live"), timeout=10)
        self.assertEqual(next(watch).update, b"live")
        watch.cancel()

        compacted = conversations.CompactConversation(grimoire_pb2.CompactConversationRequest(
            conversation_id=conversation.id, through_seq=4, crdt_state=b"merged"), timeout=10)
        self.assertEqual((compacted.compacted_seq, compacted.update_seq), (4, 4))
        self.assertEqual(compacted.crdt_state, b"merged")
        with self.assertRaises(grpc.RpcError) as again:
            conversations.CompactConversation(grimoire_pb2.CompactConversationRequest(
                conversation_id=conversation.id, through_seq=4, crdt_state=b"late"), timeout=10)
        self.assertEqual(again.exception.code(), grpc.StatusCode.ABORTED)
        with self.assertRaises(grpc.RpcError) as gone:
            conversations.ListConversationUpdates(grimoire_pb2.ListConversationUpdatesRequest(
                conversation_id=conversation.id, after_seq=0), timeout=10)
        self.assertEqual(gone.exception.code(), grpc.StatusCode.OUT_OF_RANGE)


class ErrorDetailsTest(unittest.TestCase):
    """What the server sends in grpc-status-details-bin (docs/API.md, "Error
    details"; tests/error_details_test.cc), as error_details() parses it."""

    def setUp(self):
        self.channel = connect()
        self.heroes = heroes_pb2_grpc.HeroServiceStub(self.channel)

    def tearDown(self):
        self.channel.close()

    def details_of(self, call, code):
        """Calls, expects the error `code`, and returns error_details() of
        it, checking what every error carries: a google.rpc.Status with the
        call's code and message, and an ErrorInfo of the domain protomodel."""
        with self.assertRaises(grpc.RpcError) as caught:
            call()
        error = caught.exception
        self.assertEqual(error.code(), code, error.details())
        details = error_details(error)
        self.assertIsNotNone(details, "no grpc-status-details-bin trailer")
        self.assertEqual(details["status"].code, code.value[0])
        self.assertEqual(details["status"].message, error.details())
        self.assertEqual(details["error_info"].domain, "protomodel")
        self.assertTrue(details["status"].details[0].Is(error_details_pb2.ErrorInfo.DESCRIPTOR))
        return details

    def assert_bad_field(self, details, field, reason):
        """INVALID_ARGUMENT's details: the reason, and the field in ErrorInfo's
        metadata and in BadRequest's one field violation."""
        self.assertEqual(details["error_info"].reason, reason)
        self.assertEqual(details["error_info"].metadata["field"], field)
        violations = details["bad_request"].field_violations
        self.assertEqual(len(violations), 1)
        self.assertEqual(violations[0].field, field)
        self.assertEqual(violations[0].description, details["status"].message)
        self.assertNotIn("resource_info", details)
        self.assertNotIn("retry_info", details)

    def test_a_missing_required_field_is_required_field_naming_its_path(self):
        details = self.details_of(lambda: self.heroes.CreateHero(heroes_pb2.CreateHeroRequest(
            hero=heroes_pb2.Hero(name="Deadpond"), request_id=str(uuid.uuid4())), timeout=10),
            grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(details["status"].message, "hero.secret_name is required")
        self.assert_bad_field(details, "hero.secret_name", "REQUIRED_FIELD")

    def test_a_bad_filter_is_invalid_filter_naming_filter(self):
        for bad in ('name = ', 'secret = "x"'):
            with self.subTest(filter=bad):
                details = self.details_of(lambda: self.heroes.ListHeroes(
                    heroes_pb2.ListHeroesRequest(filter=bad), timeout=10),
                    grpc.StatusCode.INVALID_ARGUMENT)
                self.assert_bad_field(details, "filter", "INVALID_FILTER")

    def test_a_missing_hero_is_resource_not_found_naming_it(self):
        hero = self.heroes.CreateHero(heroes_pb2.CreateHeroRequest(
            hero=heroes_pb2.Hero(name="Py-gone", secret_name="x"),
            request_id=str(uuid.uuid4())), timeout=10)
        self.heroes.DeleteHero(heroes_pb2.DeleteHeroRequest(id=hero.id), timeout=10)
        details = self.details_of(
            lambda: self.heroes.GetHero(heroes_pb2.GetHeroRequest(id=hero.id), timeout=10),
            grpc.StatusCode.NOT_FOUND)
        self.assertEqual(details["error_info"].reason, "RESOURCE_NOT_FOUND")
        self.assertEqual(details["resource_info"].resource_type, "heroes.v1.Hero")
        self.assertEqual(details["resource_info"].resource_name, str(hero.id))
        self.assertNotIn("bad_request", details)

    def test_a_unique_clash_is_resource_already_exists_naming_field_and_value(self):
        users = grimoire_pb2_grpc.UserServiceStub(self.channel)
        email = uuid.uuid4().hex + "@example.com"
        users.CreateUser(grimoire_pb2.CreateUserRequest(user=grimoire_pb2.User(
            email=email, display_name="Ada")), timeout=10)
        details = self.details_of(lambda: users.CreateUser(grimoire_pb2.CreateUserRequest(
            user=grimoire_pb2.User(email=email, display_name="Ada again")), timeout=10),
            grpc.StatusCode.ALREADY_EXISTS)
        self.assertEqual(details["error_info"].reason, "RESOURCE_ALREADY_EXISTS")
        self.assertEqual(details["resource_info"].resource_type, "grimoire.v1.User")
        self.assertEqual(details["resource_info"].resource_name, "email=" + email)


@unittest.skipUnless(SECURE, "needs PROTOMODEL_TEST_SECURE=1: a server with TLS and tokens")
class SecureServerTest(unittest.TestCase):
    @staticmethod
    def connect(token):
        with mock.patch.dict(os.environ, {"PROTOMODEL_TOKEN": token}):
            return connect()

    def code_of(self, call, reason=None):
        """The code of the error `call` raises. A token the service refuses
        comes with its reason (`reason`); a handshake without the client
        certificate never reaches the server, so that error carries no
        details (docs/API.md, "Error details"): error_details() is None."""
        with self.assertRaises(grpc.RpcError) as caught:
            call()
        details = error_details(caught.exception)
        if reason is None:
            self.assertIsNone(details)
        else:
            self.assertEqual(details["error_info"].reason, reason)
            self.assertEqual(details["error_info"].domain, "protomodel")
        return caught.exception.code()

    def test_a_call_without_a_token_is_unauthenticated(self):
        with self.connect("") as channel:
            heroes = heroes_pb2_grpc.HeroServiceStub(channel)
            self.assertEqual(
                self.code_of(lambda: heroes.ListHeroes(heroes_pb2.ListHeroesRequest(), timeout=10),
                             "TOKEN_MISSING"),
                grpc.StatusCode.UNAUTHENTICATED)

    def test_an_unknown_token_is_unauthenticated(self):
        with self.connect("not-a-token") as channel:
            heroes = heroes_pb2_grpc.HeroServiceStub(channel)
            self.assertEqual(
                self.code_of(lambda: heroes.ListHeroes(heroes_pb2.ListHeroesRequest(), timeout=10),
                             "TOKEN_UNKNOWN"),
                grpc.StatusCode.UNAUTHENTICATED)

    def test_without_its_client_certificate_the_server_refuses(self):
        with mock.patch.dict(os.environ):
            del os.environ["PROTOMODEL_CLIENT_CERT_FILE"]
            del os.environ["PROTOMODEL_CLIENT_KEY_FILE"]
            with connect() as channel:
                heroes = heroes_pb2_grpc.HeroServiceStub(channel)
                self.assertEqual(
                    self.code_of(lambda: heroes.ListHeroes(
                        heroes_pb2.ListHeroesRequest(), timeout=10)),
                    grpc.StatusCode.UNAVAILABLE)

    def test_a_ca_and_certificate_mean_tls_without_protomodel_tls(self):
        with mock.patch.dict(os.environ):
            del os.environ["PROTOMODEL_TLS"]
            with connect() as channel:
                heroes = heroes_pb2_grpc.HeroServiceStub(channel)
                heroes.ListHeroes(heroes_pb2.ListHeroesRequest(), timeout=10)

    def test_a_certificate_without_its_key_is_refused_before_connecting(self):
        with mock.patch.dict(os.environ):
            del os.environ["PROTOMODEL_CLIENT_KEY_FILE"]
            with self.assertRaises(ValueError):
                connect()

    def test_a_reader_token_lists_but_cannot_create(self):
        with self.connect(os.environ["PROTOMODEL_TEST_SECURE_READER_TOKEN"]) as channel:
            heroes = heroes_pb2_grpc.HeroServiceStub(channel)
            heroes.ListHeroes(heroes_pb2.ListHeroesRequest(), timeout=10)
            self.assertEqual(
                self.code_of(lambda: heroes.CreateHero(heroes_pb2.CreateHeroRequest(
                    hero=heroes_pb2.Hero(name="Py-reader", secret_name="x"),
                    request_id=str(uuid.uuid4())), timeout=10), "METHOD_NOT_GRANTED"),
                grpc.StatusCode.PERMISSION_DENIED)


if __name__ == "__main__":
    unittest.main()
