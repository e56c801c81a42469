"""The peer `make bench` measures protomodel against first: SQLModel's own
tutorial service (FastAPI, SQLModel on SQLAlchemy and psycopg2), with the
tutorial's GET /heroes/{id}, POST /heroes/ and GET /heroes/?limit=N on the
same hero table, for uvicorn with two workers (uvloop and httptools, as
`uvicorn[standard]` installs it):

  DATABASE_URL=postgresql://... python3 -m uvicorn fastapi_heroes:app --workers 2 --loop uvloop --http httptools
"""
import os
from typing import List, Optional

from fastapi import FastAPI, HTTPException, Query
from sqlmodel import Field, Session, SQLModel, create_engine, select


class HeroBase(SQLModel):
    name: str = Field(index=True)
    secret_name: str
    age: Optional[int] = Field(default=None, index=True)
    team_id: Optional[int] = Field(default=None)


class Hero(HeroBase, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)


class HeroCreate(HeroBase):
    pass


class HeroRead(HeroBase):
    id: int


engine = create_engine(os.environ["DATABASE_URL"], pool_size=8)
app = FastAPI()


@app.post("/heroes/", response_model=HeroRead)
def create_hero(hero: HeroCreate):
    with Session(engine) as session:
        db_hero = Hero.from_orm(hero)
        session.add(db_hero)
        session.commit()
        session.refresh(db_hero)
        return db_hero


@app.get("/heroes/", response_model=List[HeroRead])
def read_heroes(offset: int = 0, limit: int = Query(default=100, le=1000)):
    with Session(engine) as session:
        return session.exec(select(Hero).order_by(Hero.id).offset(offset).limit(limit)).all()


@app.get("/heroes/{hero_id}", response_model=HeroRead)
def read_hero(hero_id: int):
    with Session(engine) as session:
        hero = session.get(Hero, hero_id)
        if not hero:
            raise HTTPException(status_code=404, detail="Hero not found")
        return hero
