// What the mapping options say about tables, read through reflection.
#include "db/schema/schema.h"

#include <gtest/gtest.h>

#include "grimoire/v1/grimoire.pb.h"
#include "heroes/v1/heroes.pb.h"
#include "proto/testing/v1/widget.pb.h"

namespace protomodel::db {
namespace {

TEST(SchemaTest, ReadsHeroAndTeam) {
  auto schema = Schema::Build({heroes::v1::Team::descriptor(), heroes::v1::Hero::descriptor()});
  ASSERT_TRUE(schema.ok()) << schema.status();
  const TableSchema* hero = (*schema)->FindByName("hero");
  ASSERT_NE(hero, nullptr);
  EXPECT_EQ(hero->quoted_name(), "\"hero\"");
  EXPECT_EQ(hero->primary_key().name, "id");
  EXPECT_TRUE(hero->primary_key().output_only);
  ASSERT_EQ(hero->columns().size(), 5u);
  const Column* age = hero->FindColumn("age");
  ASSERT_NE(age, nullptr);
  EXPECT_TRUE(age->nullable);
  EXPECT_EQ(age->type, ColumnType::kInt32);
  const Column* team_id = hero->FindColumn("team_id");
  EXPECT_EQ(team_id->references, "team");
  EXPECT_EQ(team_id->on_delete, protomodel::v1::ON_DELETE_SET_NULL);
  EXPECT_TRUE(hero->FindColumn("name")->required);
  EXPECT_EQ(hero->FindColumn("team"), nullptr);
  ASSERT_EQ(hero->relations().size(), 1u);
  EXPECT_EQ(hero->relations()[0].local, team_id);
  EXPECT_EQ(hero->relations()[0].target, (*schema)->FindByName("team"));

  const TableSchema* team = (*schema)->FindByName("team");
  ASSERT_EQ(team->relations().size(), 1u);
  EXPECT_EQ(team->relations()[0].remote, team_id);
  EXPECT_EQ(team->relations()[0].limit, 1000);
}

TEST(SchemaTest, MapsEveryColumnType) {
  auto schema = Schema::Build({testing::v1::Owner::descriptor(),
                               testing::v1::Widget::descriptor()});
  ASSERT_TRUE(schema.ok()) << schema.status();
  const TableSchema* widget = (*schema)->FindByName("widget");
  EXPECT_EQ(widget->primary_key().type, ColumnType::kUuid);
  EXPECT_EQ(widget->FindColumn("owner_id")->type, ColumnType::kUuid);
  EXPECT_EQ(widget->FindColumn("enabled")->type, ColumnType::kBool);
  EXPECT_EQ(widget->FindColumn("weight")->type, ColumnType::kDouble);
  EXPECT_EQ(widget->FindColumn("blob")->type, ColumnType::kBytes);
  EXPECT_FALSE(widget->FindColumn("blob")->comparable());
  EXPECT_EQ(widget->FindColumn("created_at")->type, ColumnType::kTimestamp);
  EXPECT_TRUE(widget->FindColumn("created_at")->output_only);
  EXPECT_TRUE(widget->FindColumn("due_at")->nullable);
  EXPECT_EQ(widget->etag(), widget->FindColumn("etag"));
  EXPECT_FALSE(widget->etag()->comparable());
  auto [table, column] = (*schema)->FindConstraint("widget_code_key");
  EXPECT_EQ(table, widget);
  EXPECT_EQ(column, widget->FindColumn("code"));
  EXPECT_EQ((*schema)->FindConstraint("widget_owner_id_fkey").second,
            widget->FindColumn("owner_id"));
}

TEST(SchemaTest, ReadsALiveDocumentFromTheOptions) {
  auto schema = Schema::Build({grimoire::v1::User::descriptor(), grimoire::v1::Class::descriptor(),
                               grimoire::v1::Conversation::descriptor()});
  ASSERT_TRUE(schema.ok()) << schema.status();
  const TableSchema* conversation = (*schema)->FindByName("conversation");
  ASSERT_NE(conversation->document(), nullptr);
  EXPECT_EQ(conversation->document()->state, conversation->FindColumn("crdt_state"));
  EXPECT_EQ(conversation->document()->update_seq, conversation->FindColumn("update_seq"));
  EXPECT_EQ(conversation->document()->compacted_seq, conversation->FindColumn("compacted_seq"));
  EXPECT_FALSE(conversation->FindColumn("update_seq")->writable());
  EXPECT_EQ((*schema)->FindByName("user")->document(), nullptr);
}

TEST(SchemaTest, RejectsALiveDocumentThatDoesNotFit) {
  auto half = Schema::Build({testing::v1::HalfDocument::descriptor()});
  EXPECT_EQ(half.status().message(),
            "message testing.v1.HalfDocument: a live document needs all three of "
            "DOCUMENT_STATE, DOCUMENT_UPDATE_SEQ and DOCUMENT_COMPACTED_SEQ");
  auto text = Schema::Build({testing::v1::TextSeqDocument::descriptor()});
  EXPECT_EQ(text.status().message(),
            "field testing.v1.TextSeqDocument.update_seq: DOCUMENT_UPDATE_SEQ must be a "
            "singular int64 field");
}

TEST(SchemaTest, RejectsAMessageWithoutTableOption) {
  auto schema = Schema::Build({heroes::v1::ListHeroesRequest::descriptor()});
  EXPECT_EQ(schema.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SchemaTest, RejectsRelationsToUnregisteredTables) {
  auto schema = Schema::Build({heroes::v1::Hero::descriptor()});
  EXPECT_EQ(schema.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace protomodel::db
